// Secrets with age (docs/config.md, "Secrets"): encrypting to recipients and decrypting with an
// identity file by running the `age` binary. Plaintext travels only through pipes (stdin and
// stdout), never on a command line, in a file or in an error message.
//
// RunPiped is the one helper: posix_spawnp with stdin, stdout and stderr on pipes (so no code
// of ours runs in a forked copy of yoke; platform/process.h says why), input written and output
// read with poll(2) under one deadline; past it the child is killed by its pid and reaped.
// Thread-safety: free functions, safe from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace yoke {

struct PipedResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};
// Runs argv[0] (found on PATH when it has no '/') with `input` on stdin. Output is capped at
// `max_output` bytes per stream (more fails the run).
StatusOr<PipedResult> RunPiped(const std::vector<std::string>& argv, const std::string& input,
                               std::chrono::milliseconds timeout,
                               size_t max_output = 16 * 1024 * 1024);

struct AgeOptions {
  std::string binary = "age";
  std::chrono::milliseconds timeout{10000};
};

// `age -d -i identity`: the plaintext of `ciphertext` (binary or armored). The identity file
// must be a regular file of mode 0600 or stricter. An error says why (age's own message), never
// anything of the plaintext.
StatusOr<std::string> AgeDecrypt(const std::filesystem::path& identity_file,
                                 const std::string& ciphertext, const AgeOptions& options = {});

// `age -a -r R ...`: the armored ciphertext of `plaintext` for each recipient (age1... keys or
// ssh public keys).
StatusOr<std::string> AgeEncrypt(const std::vector<std::string>& recipients,
                                 const std::string& plaintext, const AgeOptions& options = {});

// Checks that `path` is a regular file no one but its owner may read or write (mode 0600 or
// stricter).
Status CheckPrivateFile(const std::filesystem::path& path, const std::string& what);

}  // namespace yoke
