// Diagnostic: one problem found in a project file or a workflow file, with its position.
//
// Rendering, validation and project parsing report every problem they find, not only the first,
// as a list of Diagnostics. Positions are 1-based; column counts bytes from the start of the
// line (as yaml-cpp's marks do). A position of 0 means "the whole file". Pure value type.
#pragma once

#include <string>
#include <vector>

namespace weir::workflow {

struct Diagnostic {
  std::string file;                      // as the user named it, e.g. "flows/daily.sch.yaml"
  int line = 0;                          // 1-based; 0 = no position
  int column = 0;                        // 1-based byte column; 0 = no position
  std::string message;                   // "context: detail", no final period
  std::string reference;                 // the ${...} text involved, if any (without ${ })
  std::vector<std::string> suggestions;  // what does exist nearby, best first

  // "file:line:column: message (did you mean: a; b)"; the position is left out when 0.
  std::string ToString() const;
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

// Sorts by file, line, column, then message (stable presentation for users and golden files).
void SortDiagnostics(std::vector<Diagnostic>& diagnostics);

// One line per diagnostic, each ending in '\n'.
std::string FormatDiagnostics(const std::vector<Diagnostic>& diagnostics);

// The Levenshtein distance, for "did you mean" hints.
size_t EditDistance(std::string_view a, std::string_view b);

// Up to `max` of `candidates` closest to `word` (distance at most max(2, |word|/3)), best first.
std::vector<std::string> ClosestNames(std::string_view word,
                                      const std::vector<std::string>& candidates, size_t max = 3);

}  // namespace weir::workflow
