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
# The installed Python module (a build with LRP_PYTHON): imported from the prefix alone, it
# explains with the installed libraries and loads the out-of-tree rule plugin.
if(PYTHON)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${WORK}/prefix/${PYTHON_DIR} ${PYTHON} -c
                          "import lrplab, numpy as np; lrplab.load_plugin('${WORK}/epsilon_clip/epsilon_clip.so'); \
m = lrplab.load_model('${SOURCE}/models/fmnist_cnn.h5'); \
e = m.explain(np.full((2, 1, 28, 28), 0.5, np.float32), rules=[{'fallback': True, 'rule': 'epsilon_clip'}]); \
print(lrplab.__file__, e.relevance.shape, 'epsilon_clip' in lrplab.rules())"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "^${WORK}/prefix/.*\\(2, 1, 28, 28\\) True")
    message(FATAL_ERROR "plugin SDK: the installed Python module did not import from the prefix, explain and load the plugin (${rc}):\n${out}\n${err}")
  endif()
endif()
file(REMOVE_RECURSE ${WORK})
message(STATUS "plugin SDK: installed, built both examples out of tree and loaded them")
