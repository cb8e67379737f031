# Writes `yoke --help` and each command's --help into OUT (cmake -P, from cmake/packaging.cmake).
set(text "")
foreach(cmd "" run status versions decisions archive promote reject pin unpin rollback meta
        check-config upgrade proxy)
  if(cmd STREQUAL "")
    execute_process(COMMAND ${YOKE} --help OUTPUT_VARIABLE out ERROR_VARIABLE out)
    string(APPEND text "$ yoke --help\n${out}\n")
  else()
    execute_process(COMMAND ${YOKE} ${cmd} --help OUTPUT_VARIABLE out ERROR_VARIABLE out
                    RESULT_VARIABLE rc)
    if(rc EQUAL 0)
      string(APPEND text "$ yoke ${cmd} --help\n${out}\n")
    endif()
  endif()
endforeach()
file(WRITE ${OUT} "${text}")
