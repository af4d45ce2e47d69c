# nodenet_netlink: netns handles, rtnetlink socket, link/address/route/bridge operations, sysctl (libnl-route-3),
# and NETLINK_NETFILTER sockets for nft and conntrack (libmnl).
# Public headers keep libnl out (forward declarations only), so libnl is a private dependency.
add_library(nodenet_netlink STATIC
  ${CMAKE_CURRENT_LIST_DIR}/netns.cc
  ${CMAKE_CURRENT_LIST_DIR}/rtnl_socket.cc
  ${CMAKE_CURRENT_LIST_DIR}/link.cc
  ${CMAKE_CURRENT_LIST_DIR}/addr.cc
  ${CMAKE_CURRENT_LIST_DIR}/route.cc
  ${CMAKE_CURRENT_LIST_DIR}/sysctl.cc
  ${CMAKE_CURRENT_LIST_DIR}/neigh.cc
  ${CMAKE_CURRENT_LIST_DIR}/nfnl_socket.cc
)
target_include_directories(nodenet_netlink PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(nodenet_netlink PUBLIC nodenet_base PRIVATE PkgConfig::LIBNL PkgConfig::LIBMNL)
