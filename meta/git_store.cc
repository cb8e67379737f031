// GitStore over libgit2. Over 500 lines because each git operation (read at a tip, commit with
// compare-and-swap, fetch with credentials, re-apply local commits, push) is a sequence of
// libgit2 calls with its own error adapter; they share the RAII wrappers at the top.
#include "meta/git_store.h"

#include <fcntl.h>
#include <git2.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

namespace yoke::meta {
namespace {

namespace fs = std::filesystem;

void InitLibgit2() {
  static const int once = git_libgit2_init();
  (void)once;
}

std::string GitError(const std::string& what) {
  const git_error* e = git_error_last();
  return what + ": " + (e && e->message ? e->message : "unknown libgit2 error");
}

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
using CommitPtr = std::unique_ptr<git_commit, Freer<git_commit, git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, Freer<git_tree, git_tree_free>>;
using IndexPtr = std::unique_ptr<git_index, Freer<git_index, git_index_free>>;
using RefPtr = std::unique_ptr<git_reference, Freer<git_reference, git_reference_free>>;
using ConfigPtr = std::unique_ptr<git_config, Freer<git_config, git_config_free>>;
using SignaturePtr = std::unique_ptr<git_signature, Freer<git_signature, git_signature_free>>;
using WalkPtr = std::unique_ptr<git_revwalk, Freer<git_revwalk, git_revwalk_free>>;
using DiffPtr = std::unique_ptr<git_diff, Freer<git_diff, git_diff_free>>;
using EntryPtr = std::unique_ptr<git_tree_entry, Freer<git_tree_entry, git_tree_entry_free>>;
using BlobPtr = std::unique_ptr<git_blob, Freer<git_blob, git_blob_free>>;

std::string ToHex(const git_oid& oid) {
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_fmt(hex, &oid);
  return hex;
}

StatusOr<git_oid> FromHex(const std::string& hex) {
  git_oid oid;
  if (git_oid_fromstr(&oid, hex.c_str()) != 0) return Fail("not a commit id: " + hex);
  return oid;
}

// A file change with its content already stored as a blob.
struct BlobChange {
  std::string path;
  std::optional<git_oid> blob;  // nullopt: remove
};

StatusOr<std::string> RefTarget(git_repository* repo, const std::string& ref) {
  git_oid oid;
  int rc = git_reference_name_to_id(&oid, repo, ref.c_str());
  if (rc == GIT_ENOTFOUND) return std::string();
  if (rc != 0) return Fail(GitError("cannot read " + ref));
  return ToHex(oid);
}

StatusOr<CommitPtr> CommitAt(git_repository* repo, const git_oid& id) {
  git_commit* commit = nullptr;
  if (git_commit_lookup(&commit, repo, &id) != 0) return Fail(GitError("cannot read commit"));
  return CommitPtr(commit);
}

StatusOr<TreePtr> TreeAt(git_repository* repo, const git_oid& id) {
  git_tree* tree = nullptr;
  if (git_tree_lookup(&tree, repo, &id) != 0) return Fail(GitError("cannot read tree"));
  return TreePtr(tree);
}

StatusOr<TreePtr> TreeOf(git_repository* repo, const std::string& commit_hex) {
  YOKE_ASSIGN_OR_RETURN(git_oid oid, FromHex(commit_hex));
  YOKE_ASSIGN_OR_RETURN(CommitPtr commit, CommitAt(repo, oid));
  return TreeAt(repo, *git_commit_tree_id(commit.get()));
}

// Writes the tree of `base` (may be null: empty) with `changes` applied.
StatusOr<git_oid> TreeWith(git_repository* repo, git_tree* base,
                           const std::vector<BlobChange>& changes) {
  git_index* raw = nullptr;
  if (git_index_new(&raw) != 0) return Fail(GitError("cannot make an index"));
  IndexPtr index(raw);
  if (base && git_index_read_tree(raw, base) != 0) return Fail(GitError("cannot read tree"));
  for (const BlobChange& change : changes) {
    if (!change.blob) {
      git_index_remove(raw, change.path.c_str(), 0);
      continue;
    }
    git_index_entry entry;
    std::memset(&entry, 0, sizeof entry);
    entry.mode = GIT_FILEMODE_BLOB;
    entry.path = change.path.c_str();
    entry.id = *change.blob;
    if (git_index_add(raw, &entry) != 0) return Fail(GitError("cannot stage " + change.path));
  }
  git_oid tree;
  if (git_index_write_tree_to(&tree, raw, repo) != 0) return Fail(GitError("cannot write tree"));
  return tree;
}

// The files `commit` changed against its first parent (all of them for a first commit).
StatusOr<std::vector<BlobChange>> ChangesOf(git_repository* repo, git_commit* commit) {
  YOKE_ASSIGN_OR_RETURN(TreePtr tree, TreeAt(repo, *git_commit_tree_id(commit)));
  TreePtr parent_tree;
  if (git_commit_parentcount(commit) > 0) {
    YOKE_ASSIGN_OR_RETURN(parent_tree, TreeOf(repo, ToHex(*git_commit_parent_id(commit, 0))));
  }
  git_diff* raw = nullptr;
  if (git_diff_tree_to_tree(&raw, repo, parent_tree.get(), tree.get(), nullptr) != 0) {
    return Fail(GitError("cannot diff"));
  }
  DiffPtr diff(raw);
  std::vector<BlobChange> changes;
  for (size_t i = 0; i < git_diff_num_deltas(raw); ++i) {
    const git_diff_delta* delta = git_diff_get_delta(raw, i);
    if (delta->status == GIT_DELTA_DELETED) {
      changes.push_back({delta->old_file.path, std::nullopt});
    } else {
      changes.push_back({delta->new_file.path, delta->new_file.id});
    }
  }
  return changes;
}

// Writes a commit of tree `tree_id` whose parent is `parent_hex` (empty: none).
StatusOr<std::string> WriteCommit(git_repository* repo, const git_signature* author,
                                  const git_signature* committer, const char* encoding,
                                  const char* message, const git_oid& tree_id,
                                  const std::string& parent_hex) {
  YOKE_ASSIGN_OR_RETURN(TreePtr tree, TreeAt(repo, tree_id));
  CommitPtr parent;
  if (!parent_hex.empty()) {
    YOKE_ASSIGN_OR_RETURN(git_oid parent_id, FromHex(parent_hex));
    YOKE_ASSIGN_OR_RETURN(parent, CommitAt(repo, parent_id));
  }
  const git_commit* parents[] = {parent.get()};
  git_oid id;
  if (git_commit_create(&id, repo, nullptr, author, committer, encoding, message, tree.get(),
                        parent ? 1 : 0, parents) != 0) {
    return Fail(GitError("cannot commit"));
  }
  return ToHex(id);
}

int CollectBlob(const char* root, const git_tree_entry* entry, void* payload) {
  if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
    static_cast<std::vector<std::string>*>(payload)->push_back(std::string(root) +
                                                               git_tree_entry_name(entry));
  }
  return 0;
}

// After losing a race for the branch (or its lock), wait a little, longer each time, with
// jitter so that two writers stop colliding.
using OdbPtr = std::unique_ptr<git_odb, Freer<git_odb, git_odb_free>>;
using OdbObjectPtr = std::unique_ptr<git_odb_object, Freer<git_odb_object, git_odb_object_free>>;

Status CopyObject(git_odb* from, git_odb* to, const git_oid& id) {
  git_odb_object* raw = nullptr;
  if (git_odb_read(&raw, from, &id) != 0) return Fail(GitError("cannot read " + ToHex(id)));
  OdbObjectPtr object(raw);
  git_oid written;
  if (git_odb_write(&written, to, git_odb_object_data(raw), git_odb_object_size(raw),
                    git_odb_object_type(raw)) != 0) {
    return Fail(GitError("cannot write " + ToHex(id)));
  }
  return Ok();
}

// Children are written before their tree, so a tree `to` has is complete there.
Status CopyTree(git_repository* from_repo, git_odb* from, git_odb* to, const git_oid& id) {
  if (git_odb_exists(to, &id)) return Ok();
  git_tree* raw = nullptr;
  if (git_tree_lookup(&raw, from_repo, &id) != 0) return Fail(GitError("cannot read a tree"));
  TreePtr tree(raw);
  for (size_t i = 0; i < git_tree_entrycount(raw); ++i) {
    const git_tree_entry* entry = git_tree_entry_byindex(raw, i);
    const git_oid* child = git_tree_entry_id(entry);
    if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
      YOKE_RETURN_IF_ERROR(CopyTree(from_repo, from, to, *child));
    } else if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB && !git_odb_exists(to, child)) {
      YOKE_RETURN_IF_ERROR(CopyObject(from, to, *child));
    }
  }
  return CopyObject(from, to, id);
}

// Copies the commits reachable from `tip` and not from `known` (commits `to` has), with their
// trees and blobs, from one repository to another as loose objects, oldest first: an object
// `to` ends up with always has everything it refers to. libgit2's local transport would write
// a pack file per fetch or push, refused ones included; a few hundred of them make every
// lookup in a shared remote slow (git's own tools repack them; libgit2 has no gc).
Status CopyCommits(git_repository* from_repo, git_repository* to_repo, const git_oid& tip,
                   const std::vector<git_oid>& known) {
  git_odb *from_raw = nullptr, *to_raw = nullptr;
  if (git_repository_odb(&from_raw, from_repo) != 0) return Fail(GitError("cannot open objects"));
  OdbPtr from(from_raw);
  if (git_repository_odb(&to_raw, to_repo) != 0) return Fail(GitError("cannot open objects"));
  OdbPtr to(to_raw);
  git_revwalk* raw_walk = nullptr;
  if (git_revwalk_new(&raw_walk, from_repo) != 0) return Fail(GitError("cannot walk history"));
  WalkPtr walk(raw_walk);
  git_revwalk_sorting(raw_walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
  if (git_revwalk_push(raw_walk, &tip) != 0) return Fail(GitError("cannot walk history"));
  for (const git_oid& id : known) {
    if (git_odb_exists(from_raw, &id)) git_revwalk_hide(raw_walk, &id);
  }
  git_oid next;
  while (git_revwalk_next(&next, raw_walk) == 0) {
    if (git_odb_exists(to_raw, &next)) continue;
    YOKE_ASSIGN_OR_RETURN(CommitPtr commit, CommitAt(from_repo, next));
    YOKE_RETURN_IF_ERROR(CopyTree(from_repo, from_raw, to_raw, *git_commit_tree_id(commit.get())));
    YOKE_RETURN_IF_ERROR(CopyObject(from_raw, to_raw, next));
  }
  return Ok();
}

void RaceBackoff(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  int cap = 1 << std::min(attempt, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + random() % cap));
}

// A push only moves the remote's branch from the tip last fetched (a lease, as git push
// --force-with-lease): after a force-push to the remote, a host that has not fetched yet would
// otherwise fast-forward the server from the rewound tip straight back to the old history. The
// server's own update is atomic on the old value it is sent, so the check has no gap.
int CheckLease(const git_push_update** updates, size_t len, void* payload) {
  auto* session = static_cast<RemoteSession*>(payload);
  for (size_t i = 0; i < len; ++i) {
    const std::string remote = git_oid_is_zero(&updates[i]->src) ? "" : ToHex(updates[i]->src);
    if (remote != session->lease) {
      session->lease_broken = remote.empty() ? "none" : remote;
      git_error_set_str(GIT_ERROR_NET, "the remote moved since the last fetch");
      return GIT_EUSER;
    }
  }
  return 0;
}

int NoteRejection(const char* refname, const char* status, void* payload) {
  if (status) {
    static_cast<RemoteSession*>(payload)->rejected_refs = std::string(refname) + ": " + status;
  }
  return 0;
}

}  // namespace

GitStore::GitStore(git_repository* repo, std::string path, std::string branch)
    : repo_(repo), path_(std::move(path)), branch_(std::move(branch)) {}

GitStore::~GitStore() { git_repository_free(repo_); }

StatusOr<std::unique_ptr<GitStore>> GitStore::Open(const std::string& path,
                                                   const std::string& branch) {
  InitLibgit2();
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0) {
    return Fail(GitError("cannot open meta repository " + path));
  }
  std::string name = branch;
  if (name.empty()) {
    git_reference* head = nullptr;
    if (git_reference_lookup(&head, repo, "HEAD") != 0 ||
        git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
      git_reference_free(head);
      git_repository_free(repo);
      return Fail("meta repository " + path + ": HEAD does not name a branch");
    }
    name = git_reference_symbolic_target(head);
    git_reference_free(head);
    if (name.starts_with("refs/heads/")) name = name.substr(11);
  }
  auto store = std::unique_ptr<GitStore>(new GitStore(repo, path, name));
  git_config* config = nullptr;
  if (git_repository_config_snapshot(&config, repo) == 0) {
    const char* url = nullptr;
    if (git_config_get_string(&url, config, "remote.origin.url") == 0 && url) store->url_ = url;
    git_config_free(config);
  }
  return store;
}

StatusOr<std::unique_ptr<GitStore>> GitStore::OpenOrInit(const std::string& path,
                                                         const std::string& branch, bool bare) {
  InitLibgit2();
  git_repository* probe = nullptr;
  if (git_repository_open_ext(&probe, path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) == 0) {
    git_repository_free(probe);
    return Open(path, branch);
  }
  git_repository_init_options options = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  options.flags = GIT_REPOSITORY_INIT_MKPATH | (bare ? GIT_REPOSITORY_INIT_BARE : 0);
  options.initial_head = branch.c_str();
  git_repository* repo = nullptr;
  if (git_repository_init_ext(&repo, path.c_str(), &options) != 0) {
    return Fail(GitError("cannot create meta repository " + path));
  }
  return std::unique_ptr<GitStore>(new GitStore(repo, path, branch));
}

Status GitStore::SetRemote(const std::string& url) {
  // Written to the config directly (git_remote_create and git_remote_lookup match url.*.insteadOf
  // with a regex, which leaks in libgit2 1.5's PCRE2 glue on every call).
  git_config* config = nullptr;
  if (git_repository_config(&config, repo_) != 0) return Fail(GitError("cannot read git config"));
  ConfigPtr owned(config);
  const std::string fetch = "+refs/heads/*:refs/remotes/origin/*";
  if (git_config_set_string(config, "remote.origin.url", url.c_str()) != 0 ||
      git_config_set_string(config, "remote.origin.fetch", fetch.c_str()) != 0) {
    return Fail(GitError("cannot set remote origin to " + url));
  }
  url_ = url;
  return Ok();
}

bool GitStore::HasRemote() const { return !url_.empty(); }

void GitStore::RemoteFree::operator()(git_remote* remote) const { git_remote_free(remote); }

StatusOr<std::unique_ptr<git_remote, GitStore::RemoteFree>> GitStore::Remote() const {
  if (url_.empty()) return Fail("meta repository " + path_ + " has no remote");
  git_remote_create_options options = GIT_REMOTE_CREATE_OPTIONS_INIT;
  options.repository = repo_;
  options.name = nullptr;  // in memory: nothing is read from or written to the config
  options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  git_remote* remote = nullptr;
  if (git_remote_create_with_opts(&remote, url_.c_str(), &options) != 0) {
    return Fail(GitError("bad remote " + url_));
  }
  return std::unique_ptr<git_remote, RemoteFree>(remote);
}

StatusOr<std::string> GitStore::Tip() const { return RefTarget(repo_, "refs/heads/" + branch_); }

StatusOr<std::optional<std::string>> GitStore::ReadFile(const std::string& path) const {
  YOKE_ASSIGN_OR_RETURN(std::string tip, Tip());
  if (tip.empty()) return std::optional<std::string>();
  YOKE_ASSIGN_OR_RETURN(TreePtr tree, TreeOf(repo_, tip));
  git_tree_entry* raw = nullptr;
  int rc = git_tree_entry_bypath(&raw, tree.get(), path.c_str());
  EntryPtr entry(raw);
  if (rc == GIT_ENOTFOUND) return std::optional<std::string>();
  if (rc != 0) return Fail(GitError("cannot read " + path));
  if (git_tree_entry_type(raw) != GIT_OBJECT_BLOB) return Fail(path + " is not a file");
  git_blob* blob = nullptr;
  if (git_blob_lookup(&blob, repo_, git_tree_entry_id(raw)) != 0) {
    return Fail(GitError("cannot read " + path));
  }
  BlobPtr owned(blob);
  const char* data = static_cast<const char*>(git_blob_rawcontent(blob));
  return std::optional<std::string>(std::string(data, git_blob_rawsize(blob)));
}

StatusOr<std::vector<std::string>> GitStore::ListFiles(const std::string& dir) const {
  std::vector<std::string> files;
  YOKE_ASSIGN_OR_RETURN(std::string tip, Tip());
  if (tip.empty()) return files;
  YOKE_ASSIGN_OR_RETURN(TreePtr tree, TreeOf(repo_, tip));
  TreePtr sub;
  std::string prefix;
  if (!dir.empty()) {
    git_tree_entry* raw = nullptr;
    int rc = git_tree_entry_bypath(&raw, tree.get(), dir.c_str());
    EntryPtr entry(raw);
    if (rc == GIT_ENOTFOUND || (rc == 0 && git_tree_entry_type(raw) != GIT_OBJECT_TREE)) {
      return files;
    }
    if (rc != 0) return Fail(GitError("cannot read " + dir));
    git_tree* subtree = nullptr;
    if (git_tree_lookup(&subtree, repo_, git_tree_entry_id(raw)) != 0) {
      return Fail(GitError("cannot read " + dir));
    }
    sub.reset(subtree);
    prefix = dir + "/";
  }
  std::vector<std::string> relative;
  if (git_tree_walk(sub ? sub.get() : tree.get(), GIT_TREEWALK_PRE, CollectBlob, &relative) != 0) {
    return Fail(GitError("cannot list " + dir));
  }
  for (auto& r : relative) files.push_back(prefix + r);
  std::sort(files.begin(), files.end());
  return files;
}

std::string GitStore::BlobId(const std::string& path) const {
  auto tip = Tip();
  if (!tip || tip->empty()) return "";
  auto tree = TreeOf(repo_, *tip);
  if (!tree) return "";
  git_tree_entry* raw = nullptr;
  if (git_tree_entry_bypath(&raw, tree->get(), path.c_str()) != 0) return "";
  EntryPtr entry(raw);
  return ToHex(*git_tree_entry_id(raw));
}

StatusOr<bool> GitStore::MoveBranch(const std::string& new_tip, const std::string& old_tip,
                                    const std::string& why) {
  YOKE_ASSIGN_OR_RETURN(git_oid target, FromHex(new_tip));
  const std::string ref = "refs/heads/" + branch_;
  git_reference* raw = nullptr;
  int rc;
  if (old_tip.empty()) {
    // libgit2 checks that a new ref is absent before it takes the ref's lock, so two writers
    // creating the branch at once could both succeed and one commit would vanish. yoke's
    // writers (the supervisor, `yoke meta`) take this lock and look again under it.
    const std::string lock_path = std::string(git_repository_path(repo_)) + "yoke-branch.lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      if (fd >= 0) ::close(fd);
      return Fail("cannot lock " + lock_path + ": " + std::strerror(errno));
    }
    auto now = RefTarget(repo_, ref);
    if (now && !now->empty()) {
      ::close(fd);
      return false;  // another writer created it: start again from its tip
    }
    rc = git_reference_create(&raw, repo_, ref.c_str(), &target, 0, why.c_str());
    ::close(fd);
  } else {
    YOKE_ASSIGN_OR_RETURN(git_oid expected, FromHex(old_tip));
    rc =
        git_reference_create_matching(&raw, repo_, ref.c_str(), &target, 1, &expected, why.c_str());
  }
  git_reference_free(raw);
  if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ELOCKED) return false;
  if (rc != 0) return Fail(GitError("cannot move " + ref));
  UpdateWorkingTree(old_tip, new_tip);
  return true;
}

void GitStore::UpdateWorkingTree(const std::string& old_tip, const std::string& new_tip) {
  if (git_repository_is_bare(repo_)) return;
  git_reference* head = nullptr;
  if (git_reference_lookup(&head, repo_, "HEAD") != 0) return;
  RefPtr owned(head);
  if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC ||
      std::string(git_reference_symbolic_target(head)) != "refs/heads/" + branch_) {
    return;
  }
  auto target = TreeOf(repo_, new_tip);
  if (!target) return;
  git_checkout_options options = GIT_CHECKOUT_OPTIONS_INIT;
  options.checkout_strategy = GIT_CHECKOUT_SAFE;
  TreePtr baseline;
  IndexPtr empty;
  if (!old_tip.empty()) {
    auto tree = TreeOf(repo_, old_tip);
    if (!tree) return;
    baseline = std::move(*tree);
    options.baseline = baseline.get();
  } else {
    git_index* raw = nullptr;
    if (git_index_new(&raw) != 0) return;
    empty.reset(raw);
    options.baseline_index = raw;
  }
  if (git_checkout_tree(repo_, reinterpret_cast<git_object*>(target->get()), &options) != 0) {
    spdlog::warn("{}", GitError("meta: the working tree of " + path_ + " was left as it was"));
  }
}

StatusOr<std::string> GitStore::Commit(const std::vector<FileChange>& changes,
                                       const std::string& message, const Author& author,
                                       const std::optional<std::string>& expected_tip) {
  std::vector<BlobChange> blobs;
  for (const FileChange& change : changes) {
    if (!change.content) {
      blobs.push_back({change.path, std::nullopt});
      continue;
    }
    git_oid blob;
    if (git_blob_create_from_buffer(&blob, repo_, change.content->data(), change.content->size()) !=
        0) {
      return Fail(GitError("cannot store " + change.path));
    }
    blobs.push_back({change.path, blob});
  }
  git_signature* raw_sig = nullptr;
  if (git_signature_now(&raw_sig, author.name.c_str(), author.email.c_str()) != 0) {
    return Fail(GitError("bad author " + author.name));
  }
  SignaturePtr signature(raw_sig);
  // Another process may move the branch between reading the tip and moving it: start again.
  for (int attempt = 0; attempt < 40; ++attempt) {
    if (attempt > 0) RaceBackoff(attempt);
    YOKE_ASSIGN_OR_RETURN(std::string old_tip, Tip());
    if (expected_tip && old_tip != *expected_tip) {
      return Conflict(branch_ + " moved since it was read");
    }
    TreePtr base;
    if (!old_tip.empty()) {
      YOKE_ASSIGN_OR_RETURN(base, TreeOf(repo_, old_tip));
    }
    YOKE_ASSIGN_OR_RETURN(git_oid tree_id, TreeWith(repo_, base.get(), blobs));
    if (base && git_oid_equal(&tree_id, git_tree_id(base.get()))) return old_tip;
    YOKE_ASSIGN_OR_RETURN(std::string new_tip,
                          WriteCommit(repo_, signature.get(), signature.get(), nullptr,
                                      message.c_str(), tree_id, old_tip));
    YOKE_ASSIGN_OR_RETURN(bool moved, MoveBranch(new_tip, old_tip, "yoke: " + message));
    if (moved) return new_tip;
    if (expected_tip) return Conflict(branch_ + " moved since it was read");
  }
  return Fail("cannot commit to " + branch_ + ": it keeps moving");
}

std::optional<std::string> GitStore::RemotePath() const {
  if (url_.starts_with("file://")) return url_.substr(7);
  if (url_.starts_with("/")) return url_;
  return std::nullopt;
}

Status GitStore::FetchOverTransport() {
  YOKE_ASSIGN_OR_RETURN(auto remote, Remote());
  git_remote* raw = remote.get();
  const std::string origin_ref = "refs/remotes/origin/" + branch_;
  std::string spec = "+refs/heads/" + branch_ + ":" + origin_ref;
  char* specs[] = {spec.data()};
  git_strarray refspecs{specs, 1};
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  RemoteSession session(auth_, url_);
  if (Status ready = session.Prepare(); !ready) {
    last_failure_ = RemoteFailure::kOther;
    return ready;
  }
  session.Fill(&options.callbacks);
  session.StartClock();
  if (git_remote_fetch(raw, &refspecs, &options, "yoke: fetch") != 0) {
    last_failure_ =
        session.failure() == RemoteFailure::kNone ? RemoteFailure::kOther : session.failure();
    return Fail("cannot fetch from " + url_ + ": " +
                session.Explain(GitError("libgit2").substr(9)));
  }
  return Ok();
}

// libgit2 indexes what each fetch over ssh or https brings into a pack file of its own and
// never repacks: a host fetching every few seconds from a busy fleet would gather thousands,
// and every object lookup looks through all of them. Past kMaxPacks, everything the refs
// reach goes into one new pack and the old packs are removed (git gc's "too many packs").
Status GitStore::RepackIfMany() {
  constexpr size_t kMaxPacks = 32;
  const fs::path dir = fs::path(git_repository_path(repo_)) / "objects" / "pack";
  std::vector<fs::path> old;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".pack") old.push_back(entry.path());
  }
  if (ec || old.size() <= kMaxPacks) return Ok();
  git_packbuilder* raw = nullptr;
  if (git_packbuilder_new(&raw, repo_) != 0) return Fail(GitError("cannot repack"));
  std::unique_ptr<git_packbuilder, Freer<git_packbuilder, git_packbuilder_free>> builder(raw);
  git_revwalk* raw_walk = nullptr;
  if (git_revwalk_new(&raw_walk, repo_) != 0) return Fail(GitError("cannot walk history"));
  WalkPtr walk(raw_walk);
  if (git_revwalk_push_glob(raw_walk, "refs/*") != 0 ||
      git_packbuilder_insert_walk(raw, raw_walk) != 0 ||
      git_packbuilder_write(raw, dir.c_str(), 0, nullptr, nullptr) != 0) {
    return Fail(GitError("cannot repack " + path_));
  }
  const std::string kept = std::string("pack-") + git_packbuilder_name(raw);
  for (const fs::path& pack : old) {
    if (pack.stem() == kept) continue;
    for (const char* ext : {".idx", ".rev", ".pack"}) {
      fs::remove(fs::path(pack).replace_extension(ext), ec);
    }
  }
  git_odb* odb = nullptr;
  if (git_repository_odb(&odb, repo_) == 0) {
    git_odb_refresh(odb);
    git_odb_free(odb);
  }
  spdlog::info("meta: repacked {} pack files of {} into one", old.size(), path_);
  return Ok();
}

Status GitStore::Fetch() {
  const std::string origin_ref = "refs/remotes/origin/" + branch_;
  YOKE_ASSIGN_OR_RETURN(std::string before, RefTarget(repo_, origin_ref));
  const std::optional<std::string> path = RemotePath();
  if (Status fetched = path ? FetchFromPath(*path) : FetchOverTransport(); !fetched) {
    if (path) last_failure_ = RemoteFailure::kOther;
    return fetched;
  }
  last_failure_ = RemoteFailure::kNone;
  if (Status repacked = RepackIfMany(); !repacked) spdlog::warn("{}", repacked.error().message());
  YOKE_ASSIGN_OR_RETURN(std::string after, RefTarget(repo_, origin_ref));
  if (!before.empty() && !after.empty() && before != after) {
    YOKE_ASSIGN_OR_RETURN(git_oid before_id, FromHex(before));
    YOKE_ASSIGN_OR_RETURN(git_oid after_id, FromHex(after));
    if (git_graph_descendant_of(repo_, &after_id, &before_id) != 1) {
      // Keep the first old tip until Integrate() handled it: commits on it were pushed.
      if (rewound_from_.empty()) rewound_from_ = before;
      rewrite_ = before + " -> " + after;
    }
  }
  return Ok();
}

std::optional<std::string> GitStore::TakeRewrite() {
  std::optional<std::string> taken;
  taken.swap(rewrite_);
  return taken;
}

StatusOr<size_t> GitStore::Integrate(const std::string& own_prefix) {
  StatusOr<size_t> result = IntegrateOnce(own_prefix);
  if (result) rewound_from_.clear();
  return result;
}

StatusOr<size_t> GitStore::IntegrateOnce(const std::string& own_prefix) {
  const std::string origin_ref = "refs/remotes/origin/" + branch_;
  for (int attempt = 0; attempt < 40; ++attempt) {
    if (attempt > 0) RaceBackoff(attempt);
    YOKE_ASSIGN_OR_RETURN(std::string origin, RefTarget(repo_, origin_ref));
    YOKE_ASSIGN_OR_RETURN(std::string local, Tip());
    if (origin.empty() || local == origin) return size_t{0};
    YOKE_ASSIGN_OR_RETURN(git_oid origin_id, FromHex(origin));
    if (local.empty()) {
      YOKE_ASSIGN_OR_RETURN(bool moved, MoveBranch(origin, local, "yoke: follow origin"));
      if (moved) return size_t{0};
      continue;
    }
    YOKE_ASSIGN_OR_RETURN(git_oid local_id, FromHex(local));
    // Ahead of origin: push as it is, unless origin was rewound to an ancestor (then the
    // commits between are the old history, to be dropped like any other).
    if (rewound_from_.empty() && git_graph_descendant_of(repo_, &local_id, &origin_id) == 1) {
      return size_t{0};
    }
    if (git_graph_descendant_of(repo_, &origin_id, &local_id) == 1) {
      YOKE_ASSIGN_OR_RETURN(bool moved, MoveBranch(origin, local, "yoke: fast-forward"));
      if (moved) return size_t{0};
      continue;
    }
    // Diverged: re-apply the local-only commits, oldest first, on origin's tip.
    git_revwalk* raw_walk = nullptr;
    if (git_revwalk_new(&raw_walk, repo_) != 0) return Fail(GitError("cannot walk history"));
    WalkPtr walk(raw_walk);
    git_revwalk_sorting(raw_walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
    git_revwalk_push(raw_walk, &local_id);
    git_revwalk_hide(raw_walk, &origin_id);
    // After a rewrite, what was on the old remote tip was pushed once: it is the remote's to
    // keep or drop, never this clone's to bring back.
    if (!rewound_from_.empty()) {
      YOKE_ASSIGN_OR_RETURN(git_oid old_id, FromHex(rewound_from_));
      git_revwalk_hide(raw_walk, &old_id);
    }
    std::vector<git_oid> own;
    git_oid next;
    while (git_revwalk_next(&next, raw_walk) == 0) own.push_back(next);

    std::string tip = origin;
    size_t applied = 0;
    for (const git_oid& id : own) {
      YOKE_ASSIGN_OR_RETURN(CommitPtr commit, CommitAt(repo_, id));
      YOKE_ASSIGN_OR_RETURN(auto changes, ChangesOf(repo_, commit.get()));
      if (!own_prefix.empty()) {
        std::erase_if(changes,
                      [&](const BlobChange& c) { return !c.path.starts_with(own_prefix + "/"); });
        if (changes.empty()) continue;
      }
      ++applied;
      YOKE_ASSIGN_OR_RETURN(TreePtr base, TreeOf(repo_, tip));
      YOKE_ASSIGN_OR_RETURN(git_oid tree_id, TreeWith(repo_, base.get(), changes));
      YOKE_ASSIGN_OR_RETURN(tip, WriteCommit(repo_, git_commit_author(commit.get()),
                                             git_commit_committer(commit.get()),
                                             git_commit_message_encoding(commit.get()),
                                             git_commit_message(commit.get()), tree_id, tip));
    }
    YOKE_ASSIGN_OR_RETURN(bool moved,
                          MoveBranch(tip, local, "yoke: re-apply local commits on origin"));
    if (moved) return applied;
  }
  return Fail("cannot integrate origin: the branch keeps moving");
}

Status GitStore::DropLocalCommits() {
  for (int attempt = 0; attempt < 40; ++attempt) {
    if (attempt > 0) RaceBackoff(attempt);
    YOKE_ASSIGN_OR_RETURN(std::string origin, RefTarget(repo_, "refs/remotes/origin/" + branch_));
    YOKE_ASSIGN_OR_RETURN(std::string local, Tip());
    if (origin.empty() || local == origin) return Ok();
    YOKE_ASSIGN_OR_RETURN(bool moved, MoveBranch(origin, local, "yoke: drop local commits"));
    if (moved) return Ok();
  }
  return Fail("cannot reset " + branch_ + ": it keeps moving");
}

StatusOr<size_t> GitStore::Ahead() const {
  YOKE_ASSIGN_OR_RETURN(std::string local, Tip());
  if (local.empty()) return size_t{0};
  YOKE_ASSIGN_OR_RETURN(std::string origin, RefTarget(repo_, "refs/remotes/origin/" + branch_));
  YOKE_ASSIGN_OR_RETURN(git_oid local_id, FromHex(local));
  if (origin.empty()) {
    git_revwalk* raw_walk = nullptr;
    if (git_revwalk_new(&raw_walk, repo_) != 0) return Fail(GitError("cannot walk history"));
    WalkPtr walk(raw_walk);
    git_revwalk_push(raw_walk, &local_id);
    size_t n = 0;
    git_oid next;
    while (git_revwalk_next(&next, raw_walk) == 0) ++n;
    return n;
  }
  YOKE_ASSIGN_OR_RETURN(git_oid origin_id, FromHex(origin));
  size_t ahead = 0, behind = 0;
  if (git_graph_ahead_behind(&ahead, &behind, repo_, &local_id, &origin_id) != 0) {
    return Fail(GitError("cannot compare with origin"));
  }
  return ahead;
}

Status GitStore::Push() {
  if (auto path = RemotePath()) return PushToPath(*path);
  YOKE_ASSIGN_OR_RETURN(auto remote, Remote());
  git_remote* raw = remote.get();
  std::string spec = "refs/heads/" + branch_ + ":refs/heads/" + branch_;
  char* specs[] = {spec.data()};
  git_strarray refspecs{specs, 1};
  git_push_options options = GIT_PUSH_OPTIONS_INIT;
  RemoteSession session(auth_, url_);
  if (Status ready = session.Prepare(); !ready) {
    last_failure_ = RemoteFailure::kOther;
    return ready;
  }
  session.Fill(&options.callbacks);
  options.callbacks.push_update_reference = NoteRejection;
  options.callbacks.push_negotiation = CheckLease;
  YOKE_ASSIGN_OR_RETURN(session.lease, RefTarget(repo_, "refs/remotes/origin/" + branch_));
  session.StartClock();
  if (git_remote_push(raw, &refspecs, &options) != 0) {
    if (!session.lease_broken.empty()) {
      last_failure_ = RemoteFailure::kNone;
      return Conflict("the remote's " + branch_ + " is at " + session.lease_broken.substr(0, 12) +
                      ", not at " + (session.lease.empty() ? "none" : session.lease.substr(0, 12)) +
                      " as last fetched; fetching before pushing again");
    }
    last_failure_ =
        session.failure() == RemoteFailure::kNone ? RemoteFailure::kOther : session.failure();
    return Fail("cannot push to " + url_ + ": " + session.Explain(GitError("libgit2").substr(9)));
  }
  last_failure_ = RemoteFailure::kNone;
  if (!session.rejected_refs.empty()) {
    return Fail("the remote refused the push: " + session.rejected_refs);
  }
  return Ok();
}

// libgit2's local transport checks that a push fast-forwards and then moves the remote's branch
// with force, without its lock in between: a commit another writer (an operator, a captain,
// another host) made to the remote in that window would be dropped. It also leaves a pack file
// behind per push, refused ones included. So the objects are copied (CopyCommits) and the
// branch is moved here, under the remote's ref lock, only if it still points where the last
// fetch saw it.
Status GitStore::PushToPath(const std::string& remote_path) {
  YOKE_ASSIGN_OR_RETURN(std::string tip, Tip());
  if (tip.empty()) return Ok();
  YOKE_ASSIGN_OR_RETURN(std::string seen, RefTarget(repo_, "refs/remotes/origin/" + branch_));
  auto target = Open(remote_path, branch_);
  if (!target) {
    last_failure_ = RemoteFailure::kOther;
    return Fail("cannot push to " + url_ + ": " + target.error().message(),
                ErrorCode::kUnavailable);
  }
  last_failure_ = RemoteFailure::kNone;
  // Refused before any object is copied when the remote has moved already: under contention
  // most attempts end here, and leave nothing behind.
  YOKE_ASSIGN_OR_RETURN(std::string theirs, (*target)->Tip());
  if (theirs != seen) {
    return Conflict("the remote refused the push: " + branch_ + " moved since the last fetch");
  }
  YOKE_ASSIGN_OR_RETURN(git_oid tip_id, FromHex(tip));
  std::vector<git_oid> known;
  if (auto id = FromHex(seen); !seen.empty() && id) known.push_back(*id);
  if (Status copied = CopyCommits(repo_, (*target)->repo_, tip_id, known); !copied) {
    return Fail("cannot push to " + url_ + ": " + copied.error().message());
  }
  YOKE_ASSIGN_OR_RETURN(bool moved, (*target)->MoveBranch(tip, seen, "yoke: push from " + path_));
  if (!moved) {
    return Conflict("the remote refused the push: " + branch_ + " moved since the last fetch");
  }
  return Ok();
}

Status GitStore::FetchFromPath(const std::string& remote_path) {
  auto source = Open(remote_path, branch_);
  if (!source) return Fail("cannot fetch from " + url_ + ": " + source.error().message());
  YOKE_ASSIGN_OR_RETURN(std::string theirs, (*source)->Tip());
  if (theirs.empty()) return Ok();
  YOKE_ASSIGN_OR_RETURN(git_oid theirs_id, FromHex(theirs));
  std::vector<git_oid> known;
  for (const std::string& hex :
       {RefTarget(repo_, "refs/remotes/origin/" + branch_).value_or(""), Tip().value_or("")}) {
    if (auto id = FromHex(hex); !hex.empty() && id) known.push_back(*id);
  }
  if (Status copied = CopyCommits((*source)->repo_, repo_, theirs_id, known); !copied) {
    return Fail("cannot fetch from " + url_ + ": " + copied.error().message());
  }
  git_reference* raw = nullptr;
  const std::string ref = "refs/remotes/origin/" + branch_;
  if (git_reference_create(&raw, repo_, ref.c_str(), &theirs_id, 1, "yoke: fetch") != 0) {
    return Fail(GitError("cannot update " + ref));
  }
  git_reference_free(raw);
  return Ok();
}

StatusOr<std::vector<CommitInfo>> GitStore::Log(size_t limit) const {
  std::vector<CommitInfo> log;
  YOKE_ASSIGN_OR_RETURN(std::string tip, Tip());
  if (tip.empty()) return log;
  YOKE_ASSIGN_OR_RETURN(git_oid tip_id, FromHex(tip));
  git_revwalk* raw_walk = nullptr;
  if (git_revwalk_new(&raw_walk, repo_) != 0) return Fail(GitError("cannot walk history"));
  WalkPtr walk(raw_walk);
  git_revwalk_sorting(raw_walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  git_revwalk_push(raw_walk, &tip_id);
  git_oid next;
  while (log.size() < limit && git_revwalk_next(&next, raw_walk) == 0) {
    auto found = CommitAt(repo_, next);
    if (!found) continue;
    git_commit* raw_commit = found->get();
    const char* summary = git_commit_summary(raw_commit);
    log.push_back({ToHex(next), git_commit_author(raw_commit)->name, summary ? summary : "",
                   static_cast<int64_t>(git_commit_time(raw_commit))});
  }
  return log;
}

}  // namespace yoke::meta
