# The multi-call binary and its type-name links in build/cni (CNI_PATH=build/cni works with an unchanged conflist).
add_executable(nodenet-cni ${CMAKE_CURRENT_LIST_DIR}/main.cc)
target_link_libraries(nodenet-cni PRIVATE nodenet_cni_bridge nodenet_cni_ipam nodenet_cni_loopback nodenet_nft)
set(NODENET_CNI_DIR ${CMAKE_BINARY_DIR}/cni)
add_custom_command(TARGET nodenet-cni POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E make_directory ${NODENET_CNI_DIR}
  COMMAND ${CMAKE_COMMAND} -E create_symlink ../bin/nodenet-cni ${NODENET_CNI_DIR}/bridge
  COMMAND ${CMAKE_COMMAND} -E create_symlink ../bin/nodenet-cni ${NODENET_CNI_DIR}/host-local
  COMMAND ${CMAKE_COMMAND} -E create_symlink ../bin/nodenet-cni ${NODENET_CNI_DIR}/loopback
  COMMENT "CNI plugin links in build/cni")
