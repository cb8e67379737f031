#include "proxy/body_sample.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <optional>

#include "core/body_diff.h"

namespace yoke::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Executor = asio::io_context::executor_type;
using Stream = beast::basic_stream<tcp, Executor>;
template <typename T>
using Task = asio::awaitable<T, Executor>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});

struct Answer {
  std::string content_type;
  std::string body;
};

// One request on a fresh connection; nullopt (with `why`) when it fails, is not 2xx, is not
// JSON or text, or its body is over max_bytes.
Task<std::optional<Answer>> Fetch(tcp::endpoint endpoint, const std::string& copy,
                                  uint64_t max_bytes, std::chrono::milliseconds timeout,
                                  std::string& why) {
  Stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  auto [connect_ec] = co_await stream.async_connect(endpoint, kTuple);
  if (connect_ec) {
    why = "connect: " + connect_ec.message();
    co_return std::nullopt;
  }
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(copy), kTuple);
  if (write_ec) {
    why = "write: " + write_ec.message();
    co_return std::nullopt;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_bytes);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (read_ec) {
    why = read_ec == http::error::body_limit ? "body over body_sample_max_bytes"
                                             : "read: " + read_ec.message();
    co_return std::nullopt;
  }
  const auto& res = parser.get();
  if (res.result_int() < 200 || res.result_int() >= 300) {
    why = "status " + std::to_string(res.result_int());
    co_return std::nullopt;
  }
  Answer answer{std::string(res[http::field::content_type]), res.body()};
  if (!IsComparableContentType(answer.content_type)) {
    why = "content type '" + answer.content_type + "' is not compared";
    co_return std::nullopt;
  }
  co_return answer;
}

Task<void> Sample(BodySampleJob job, BodySampler& sampler, EvidenceSink* sink) {
  std::string why;
  std::optional<Answer> answers[3];
  const tcp::endpoint targets[3] = {job.running, job.testing, job.running};
  std::atomic<uint64_t>* served[3] = {job.served_running, job.served_testing, job.served_running};
  bool ok = true;
  for (int i = 0; i < 3 && ok; ++i) {
    answers[i] = co_await Fetch(targets[i], *job.copy, job.max_bytes, job.timeout, why);
    if (served[i]) served[i]->fetch_add(1, std::memory_order_relaxed);
    ok = answers[i].has_value();
  }
  if (ok && sink) {
    BodySample sample;
    sample.route = job.route;
    sample.private_values = job.private_values;
    sample.running_version = job.running_version;
    sample.testing_version = job.testing_version;
    sample.running_type = std::move(answers[0]->content_type);
    sample.running_body = std::move(answers[0]->body);
    sample.testing_type = std::move(answers[1]->content_type);
    sample.testing_body = std::move(answers[1]->body);
    sample.running_again_type = std::move(answers[2]->content_type);
    sample.running_again_body = std::move(answers[2]->body);
    sink->OnBodySample(std::move(sample));
    sampler.CountCompleted();
  } else {
    sampler.CountDropped();
    spdlog::debug("body sample on {} dropped: {}", job.route, why);
  }
  sampler.Done();
}

}  // namespace

bool BodySampler::Take(const MirrorPolicy& policy, std::string_view method) {
  if (policy.body_sample_rate <= 0 || method != "GET") return false;
  const uint64_t every =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(1 / policy.body_sample_rate)));
  // The Nth, 2Nth, ... GET, not the first: a handful of requests is never sampled.
  if ((offered_.fetch_add(1, std::memory_order_relaxed) + 1) % every != 0) return false;
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= policy.body_sample_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  taken_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void SpawnBodySample(asio::io_context& io, BodySampleJob job, BodySampler& sampler,
                     EvidenceSink* sink) {
  asio::co_spawn(io.get_executor(), Sample(std::move(job), sampler, sink),
                 [](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("body sample failed: {}", ex.what());
                   }
                 });
}

}  // namespace yoke::proxy
