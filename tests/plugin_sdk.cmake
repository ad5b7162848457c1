# CTest script: install lrplab from the build tree into a scratch prefix, build the worked example
# plugin (experiments/plugins/epsilon_clip) out of tree with find_package(lrplab), and load it with
# the installed lrplab. Variables: BUILD (the build tree), SOURCE (the repository), WORK (scratch).
file(REMOVE_RECURSE ${WORK})
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD};--prefix;${WORK}/prefix"
    "${CMAKE_COMMAND};-S;${SOURCE}/experiments/plugins/epsilon_clip;-B;${WORK}/build;-G;Ninja;-DCMAKE_PREFIX_PATH=${WORK}/prefix;-DCMAKE_BUILD_TYPE=Release"
    "${CMAKE_COMMAND};--build;${WORK}/build")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "plugin SDK: '${step}' failed (${rc}):\n${out}\n${err}")
  endif()
endforeach()
execute_process(COMMAND ${WORK}/prefix/bin/lrplab list rules --plugin ${WORK}/build/epsilon_clip.so
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "epsilon_clip" OR NOT out MATCHES "plugin ${WORK}/build/epsilon_clip.so")
  message(FATAL_ERROR "plugin SDK: the installed lrplab did not list the out-of-tree plugin (${rc}):\n${out}\n${err}")
endif()
file(REMOVE_RECURSE ${WORK})
message(STATUS "plugin SDK: installed, built the example out of tree and loaded it")
