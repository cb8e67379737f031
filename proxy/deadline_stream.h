// A TCP stream with one lazy deadline per connection, for the proxy's data path. It replaces
// beast::basic_stream there, which arms and cancels a timer around every read and write (two
// timer-queue operations and a lock each) and allocates a new state block on every move (the
// upstream pool moves a stream twice a request). Here `expires_after` only stores a time; the
// one timer of the connection is armed when an operation starts and none is armed, and when it
// fires before the stored deadline it re-arms itself for it. So a busy keep-alive connection
// arms its timer once per timeout period, not once per operation.
//
// Behaves like basic_stream where the proxy relies on it: an operation pending when the
// deadline passes fails with beast::error::timeout and the socket is closed (so every later
// operation fails with timeout too); a deadline that passes while nothing is pending times
// out the next operation at once; `expires_never` removes the deadline.
//
// Thread-safety: one thread (the worker's) uses a stream. Moves are pointer moves.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <memory>
#include <utility>

namespace yoke::proxy {

class DeadlineStream {
 public:
  using executor_type = boost::asio::io_context::executor_type;
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
  using Clock = std::chrono::steady_clock;
  using Timer =
      boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, executor_type>;
  using error_code = boost::system::error_code;

  explicit DeadlineStream(executor_type executor)
      : state_(std::make_shared<State>(Socket(executor))) {}
  explicit DeadlineStream(Socket socket) : state_(std::make_shared<State>(std::move(socket))) {}
  DeadlineStream(DeadlineStream&&) noexcept = default;
  DeadlineStream& operator=(DeadlineStream&& other) noexcept {
    if (this != &other) {
      Close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  DeadlineStream(const DeadlineStream&) = delete;
  DeadlineStream& operator=(const DeadlineStream&) = delete;
  ~DeadlineStream() { Close(); }

  executor_type get_executor() noexcept { return state_->socket.get_executor(); }
  Socket& socket() { return state_->socket; }

  void expires_after(Clock::duration timeout) {
    State& s = *state_;
    s.deadline = Clock::now() + timeout;
    // A deadline moved earlier than the armed timer needs the timer moved too; a later one
    // (the common case) is picked up when the timer fires.
    if (s.armed && s.deadline < s.timer.expiry()) Arm(state_);
  }
  void expires_never() { state_->deadline = Clock::time_point::max(); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, size_t)>(
        [](auto handler, std::shared_ptr<State> s, const MutableBuffers& b) {
          Started(s);
          s->socket.async_read_some(b,
                                    [s, h = std::move(handler)](error_code ec, size_t n) mutable {
                                      Finished(*s, ec);
                                      std::move(h)(ec, n);
                                    });
        },
        token, state_, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, size_t)>(
        [](auto handler, std::shared_ptr<State> s, const ConstBuffers& b) {
          Started(s);
          s->socket.async_write_some(b,
                                     [s, h = std::move(handler)](error_code ec, size_t n) mutable {
                                       Finished(*s, ec);
                                       std::move(h)(ec, n);
                                     });
        },
        token, state_, buffers);
  }

  template <typename Token>
  auto async_connect(const boost::asio::ip::tcp::endpoint& endpoint, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [](auto handler, std::shared_ptr<State> s, const boost::asio::ip::tcp::endpoint& e) {
          Started(s);
          s->socket.async_connect(e, [s, h = std::move(handler)](error_code ec) mutable {
            Finished(*s, ec);
            std::move(h)(ec);
          });
        },
        token, state_, endpoint);
  }

 private:
  struct State {
    explicit State(Socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    Socket socket;
    Timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    int pending = 0;
    bool armed = false;
    bool timed_out = false;
    bool closed = false;
  };

  static void Arm(const std::shared_ptr<State>& s) {
    s->armed = true;
    s->timer.expires_at(s->deadline);
    s->timer.async_wait([s](error_code ec) { OnTimer(*s, s, ec); });
  }

  static void OnTimer(State& s, const std::shared_ptr<State>& self, error_code ec) {
    // Cancelled: the stream closed, or Arm moved the timer (a new wait is under way then).
    if (ec || s.closed) return;
    s.armed = false;
    if (s.deadline == Clock::time_point::max()) return;
    if (Clock::now() < s.deadline) {
      Arm(self);
      return;
    }
    if (s.pending == 0) return;  // the next operation starts the timer again, and times out
    s.timed_out = true;
    error_code ignored;
    s.socket.close(ignored);
  }

  static void Started(const std::shared_ptr<State>& s) {
    ++s->pending;
    if (!s->armed && s->deadline != Clock::time_point::max()) Arm(s);
  }

  static void Finished(State& s, error_code& ec) {
    --s.pending;
    if (s.timed_out && ec) ec = boost::beast::error::timeout;
  }

  void Close() {
    if (!state_) return;
    State& s = *state_;
    s.closed = true;
    error_code ignored;
    s.timer.cancel();
    s.socket.close(ignored);
    state_.reset();
  }

  std::shared_ptr<State> state_;
};

}  // namespace yoke::proxy
