// A git repository of meta records, read and written through libgit2 (never by running git).
//
// Records are read from the tip of one branch, not from a working tree, and commits are made
// from an in-memory index on top of that tip, so a bare repository works as well as a clone.
// A commit moves the branch with compare-and-swap: two processes committing to one repository
// (the supervisor and `yoke meta ...`) never lose each other's commits. In a non-bare
// repository whose HEAD is that branch, the working tree follows, leaving local edits alone.
//
// With a remote ("origin"): Fetch() updates refs/remotes/origin/<branch>; Integrate() brings
// the local branch onto it, fast-forwarding, or re-applying the commits only the local branch
// has on top of the remote's tip (each commit's own file changes, with its author and message);
// Push() sends the branch. Ahead() is the number of local commits the remote lacks: the queue.
//
// A remote whose branch was rewritten (force-pushed to an older or different history) is
// noticed by Fetch(): the old remote tip is not an ancestor of the new one. Integrate() then
// re-applies only the local commits that were never on the remote, and, with an own_prefix,
// only their changes under that folder; nothing of the old history is pushed back.
//
// Thread-safety: none. One thread owns a GitStore; other processes may use the same repository.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "meta/remote_auth.h"

struct git_repository;
struct git_remote;

namespace yoke::meta {

struct FileChange {
  std::string path;                    // inside the repository, '/'-separated
  std::optional<std::string> content;  // nullopt: remove the file
};

struct Author {
  std::string name;
  std::string email;
};

struct CommitInfo {
  std::string id;
  std::string author;
  std::string message;
  int64_t time = 0;  // seconds since the epoch
};

class GitStore {
 public:
  // Opens an existing repository. `branch` empty: the branch HEAD names.
  static StatusOr<std::unique_ptr<GitStore>> Open(const std::string& path,
                                                  const std::string& branch = "");
  // Creates a repository with HEAD on `branch` and no commit, or opens it if it exists.
  static StatusOr<std::unique_ptr<GitStore>> OpenOrInit(const std::string& path,
                                                        const std::string& branch, bool bare);
  ~GitStore();
  GitStore(const GitStore&) = delete;
  GitStore& operator=(const GitStore&) = delete;

  const std::string& branch() const { return branch_; }
  const std::string& path() const { return path_; }

  // Points the remote "origin" at `url`, creating it or changing its address.
  Status SetRemote(const std::string& url);
  // Credentials, host checks and the timeout for origin (remote_auth.h). Default: none.
  void SetAuth(const RemoteAuth& auth) { auth_ = auth; }
  // The cause of the last failed Fetch() or Push() (kNone after one that worked).
  RemoteFailure last_failure() const { return last_failure_; }
  bool HasRemote() const;

  // The branch's tip, or empty when the branch has no commit yet.
  StatusOr<std::string> Tip() const;
  // A file at the tip; nullopt when it does not exist.
  StatusOr<std::optional<std::string>> ReadFile(const std::string& path) const;
  // Every file under `dir` at the tip (recursively), as repository paths, sorted.
  StatusOr<std::vector<std::string>> ListFiles(const std::string& dir) const;
  // The id of the blob at `path` at the tip (to notice a changed file cheaply), or empty.
  std::string BlobId(const std::string& path) const;

  // Commits `changes` on top of the tip and moves the branch. Returns the new tip; when the
  // changes change nothing, no commit is made and the old tip is returned.
  // With `expected_tip`, the commit is made only on that tip (compare-and-swap for a writer
  // whose changes depend on what it read there): a moved branch fails with kConflict.
  StatusOr<std::string> Commit(const std::vector<FileChange>& changes, const std::string& message,
                               const Author& author,
                               const std::optional<std::string>& expected_tip = std::nullopt);

  // Fetches the branch from origin. REQUIRES: HasRemote().
  Status Fetch();
  // A rewrite of origin's branch the last Fetch() found, as "<old tip> -> <new tip>"; taken
  // once.
  std::optional<std::string> TakeRewrite();
  // Brings the local branch onto origin's (see above). Returns the commits re-applied. With
  // `own_prefix` (a folder, no trailing '/'), only changes under it are re-applied, and a
  // local commit with none is dropped.
  StatusOr<size_t> Integrate(const std::string& own_prefix = "");
  // Moves the branch back to origin's tip as last fetched, dropping local commits: for a writer
  // whose commit was decided on a tip that is no longer the remote's (the captain).
  Status DropLocalCommits();
  // Local commits that origin's branch (as last fetched) lacks.
  StatusOr<size_t> Ahead() const;
  // Pushes the branch to origin; an error when the remote refused it. A remote on a path
  // (file:// or /...) is moved with compare-and-swap against its tip as last fetched, so a
  // commit another writer made there meanwhile is never overwritten: the push is refused
  // (kConflict) as a git server refuses a non-fast-forward, and the caller fetches again.
  Status Push();

  // The newest `limit` commits of the branch, newest first.
  StatusOr<std::vector<CommitInfo>> Log(size_t limit) const;

 private:
  GitStore(git_repository* repo, std::string path, std::string branch);
  // Moves the branch from `old_tip` (empty: absent) to `new_tip`; false when another writer
  // moved it first.
  StatusOr<bool> MoveBranch(const std::string& new_tip, const std::string& old_tip,
                            const std::string& why);
  StatusOr<size_t> IntegrateOnce(const std::string& own_prefix);
  void UpdateWorkingTree(const std::string& old_tip, const std::string& new_tip);
  // A remote on a path (file:// or absolute): objects are copied, not sent as a pack.
  std::optional<std::string> RemotePath() const;
  Status PushToPath(const std::string& remote_path);
  Status FetchFromPath(const std::string& remote_path);
  Status FetchOverTransport();
  Status RepackIfMany();

  struct RemoteFree {
    void operator()(git_remote* remote) const;
  };
  // An in-memory remote for `url_`, made for each fetch or push.
  StatusOr<std::unique_ptr<git_remote, RemoteFree>> Remote() const;

  git_repository* repo_;
  std::string path_;
  std::string branch_;
  std::string url_;  // origin's address; empty: no remote
  RemoteAuth auth_;
  RemoteFailure last_failure_ = RemoteFailure::kNone;
  std::string rewound_from_;  // origin's tip before a rewrite, until Integrate() handled it
  std::optional<std::string> rewrite_;  // not yet taken
};

}  // namespace yoke::meta
