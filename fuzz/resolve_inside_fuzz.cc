// Fuzz target: ResolveInside (common/fs.h), the check that keeps client-supplied output paths
// (GET /api/v3/jobs/{id}/output/{path}) and workflow file references inside their folder.
// Input: the relative path as the client sends it (after percent-decoding).
// The tree, made once per process in a fresh temp folder, holds regular files and folders,
// symlinks that stay inside (relative and absolute), symlinks that leave it (to a sibling whose
// name starts with the root's name, to its parent, to /), a symlink loop and a FIFO.
// Invariants: a resolved path is absolute, canonical, exists, and lies inside the canonical root
// (component-wise, so "<root>-evil" is outside).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/fs.h"
#include "fuzz_util.h"

namespace {

namespace fs = std::filesystem;

struct Tree {
  fs::path base;  // temp folder holding root/ and its siblings
  fs::path root;
};

const Tree& GetTree() {
  static const Tree* tree = [] {
    auto* t = new Tree;
    std::string tmpl = (fs::temp_directory_path() / "weir-fuzz-resolve-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) weir::fuzz::Fail(__FILE__, __LINE__, "mkdtemp", tmpl);
    t->base = fs::canonical(tmpl);
    t->root = t->base / "job";
    const fs::path& r = t->root;
    fs::create_directories(r / "logs");
    fs::create_directories(r / "a" / "b");
    fs::create_directories(t->base / "job-evil");
    fs::create_directories(t->base / "outside" / "dir");
    for (const fs::path& f : {r / "stdout", r / "logs" / "genie.log", r / "a" / "b" / "c.txt",
                              t->base / "job-evil" / "secret", t->base / "outside" / "secret"}) {
      FILE* out = std::fopen(f.c_str(), "w");
      if (out) std::fclose(out);
    }
    fs::create_directory_symlink("a", r / "link_in");
    fs::create_directory_symlink(r / "a" / "b", r / "link_abs_in");
    fs::create_symlink("b/c.txt", r / "a" / "file_link");
    fs::create_directory_symlink("../outside", r / "link_out");
    fs::create_directory_symlink("../job-evil", r / "link_evil");
    fs::create_directory_symlink("/", r / "link_root");
    fs::create_directory_symlink("..", r / "a" / "up");
    fs::create_directory_symlink("../..", r / "a" / "b" / "up2");
    fs::create_symlink("loop", r / "loop");
    fs::create_symlink("missing", r / "dangling");
    ::mkfifo((r / "fifo").c_str(), 0600);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(GetTree().base, ec);
    });
    return t;
  }();
  return *tree;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const Tree& tree = GetTree();
  auto resolved = weir::ResolveInside(tree.root, weir::fuzz::AsText(data, size));
  if (!resolved.ok()) return 0;
  const fs::path& p = *resolved;
  const std::string shown = p.string();
  FUZZ_CHECK(p.is_absolute(), "not absolute: " + shown);
  auto [r, c] = std::mismatch(tree.root.begin(), tree.root.end(), p.begin(), p.end());
  FUZZ_CHECK(r == tree.root.end(), "resolved outside the root: " + shown);
  for (const fs::path& part : p) {
    FUZZ_CHECK(part != "." && part != "..", "not canonical: " + shown);
  }
  struct stat st {};
  FUZZ_CHECK(::lstat(p.c_str(), &st) == 0 && !S_ISLNK(st.st_mode),
             "resolved path is missing or a symlink: " + shown);
  return 0;
}
