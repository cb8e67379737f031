// Boost.Asio and Boost.Beast compiled once for the whole program (separate compilation):
// every other file includes their headers without the implementation, which keeps builds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
