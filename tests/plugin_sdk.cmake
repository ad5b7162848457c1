# CTest script: install lrplab from the build tree into a scratch prefix, build the worked example
# plugins (experiments/plugins/epsilon_clip and feature_ablation) out of tree with
# find_package(lrplab), and load each with the installed lrplab. Variables: BUILD (the build tree), SOURCE (the repository), WORK (scratch).
file(REMOVE_RECURSE ${WORK})
function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "plugin SDK: '${ARGN}' failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()
run_step(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
# Each example: its name, the `lrplab list` category it adds to.
foreach(example "epsilon_clip;rules" "feature_ablation;methods")
  list(GET example 0 name)
  list(GET example 1 category)
  run_step(${CMAKE_COMMAND} -S ${SOURCE}/experiments/plugins/${name} -B ${WORK}/${name} -G Ninja
           -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_BUILD_TYPE=Release)
  run_step(${CMAKE_COMMAND} --build ${WORK}/${name})
  execute_process(COMMAND ${WORK}/prefix/bin/lrplab list ${category} --plugin ${WORK}/${name}/${name}.so
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "${name}" OR NOT out MATCHES "plugin ${WORK}/${name}/${name}.so")
    message(FATAL_ERROR "plugin SDK: the installed lrplab did not list the out-of-tree plugin ${name} (${rc}):\n${out}\n${err}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
message(STATUS "plugin SDK: installed, built both examples out of tree and loaded them")
