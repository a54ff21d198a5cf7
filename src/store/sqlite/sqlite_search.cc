// SqliteStore: the search index (SearchIndex) over search_docs and its FTS5 table search_fts.
#include "store/sqlite/sqlite_store_internal.h"

namespace weir::store::sqlite {

std::string FtsQuery(const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& term : terms) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : term) {
      if (c == '"') out += '"';
      out += c;
    }
    out += "\"*";
  }
  return out;
}

// ---- SearchIndex ------------------------------------------------------------------------------

Status SqliteStore::PutDoc(const SearchDocument& d) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt q, db_->Prepare("INSERT INTO search_docs(kind, ref, name, status, tags, text)"
                           " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(kind, ref) DO UPDATE SET"
                           " name = excluded.name, status = excluded.status,"
                           " tags = excluded.tags, text = excluded.text"));
  q.Bind(SearchKindName(d.kind)).Bind(d.id).Bind(d.name).Bind(d.status);
  return q.Bind(JoinTags(d.tags)).Bind(d.text).Run();
}

Status SqliteStore::DeleteDoc(SearchKind kind, const std::string& id) {
  WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("DELETE FROM search_docs WHERE kind = ? AND ref = ?"));
  return q.Bind(SearchKindName(kind)).Bind(id).Run();
}

Status SqliteStore::RebuildSearchIfNeeded() {
  std::lock_guard lock(mu_);
  // Inside one write transaction: of two processes opening an upgraded file at once, the second
  // sees the flag already cleared.
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT COUNT(*) FROM search_rebuild"
                                               " WHERE pending != 0"));
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row || q.Int(0) == 0) return tx.Commit();
  }
  for (Kind kind : {Kind::kApplication, Kind::kCommand, Kind::kCluster}) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare("SELECT " + EntityColumns("") + " FROM " + Tables(kind).table));
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ConfigEntity e;
      WEIR_RETURN_IF_ERROR(ReadEntity(q, 0, kind, &e));
      WEIR_RETURN_IF_ERROR(PutDoc(DocOf(e)));
    }
  }
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q,
                          db_->Prepare(std::string("SELECT ") + kJobColumns + " FROM jobs"));
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      JobRecord r;
      WEIR_RETURN_IF_ERROR(ReadJob(q, &r));
      WEIR_RETURN_IF_ERROR(PutDoc(DocOf(r)));
    }
  }
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("UPDATE search_rebuild SET pending = 0"));
    WEIR_RETURN_IF_ERROR(q.Run());
  }
  return tx.Commit();
}

Result<Page<SearchHit>> SqliteStore::SearchText(const SearchQuery& query, const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  if (query.terms.empty()) return InvalidArgument("q: give at least one word");
  const std::string match = FtsQuery(query.terms);
  std::string whole;
  for (const auto& t : query.terms) AddText(&whole, t);
  std::vector<std::string> kinds;
  for (SearchKind k : query.kinds) kinds.emplace_back(SearchKindName(k));
  kinds = Unique(std::move(kinds));
  std::string where = " WHERE search_fts MATCH ?";
  if (!kinds.empty()) {
    where += " AND d.kind IN (";
    for (size_t i = 0; i < kinds.size(); ++i) where += i == 0 ? "?" : ", ?";
    where += ")";
  }
  const std::string from =
      " FROM search_fts JOIN search_docs d ON d.doc = search_fts.rowid" + where;
  auto bind_where = [&](Stmt& q) {
    q.Bind(match);
    for (const auto& k : kinds) q.Bind(k);
  };
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/false));
  Page<SearchHit> out;
  {
    WEIR_ASSIGN_OR_RETURN(Stmt q, db_->Prepare("SELECT COUNT(*)" + from));
    bind_where(q);
    WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
    out.total = row ? q.Int(0) : 0;
  }
  const int64_t offset = static_cast<int64_t>(page.page) * page.size;
  if (offset < out.total) {
    // bm25 weights follow the FTS columns: ref, name, tags, text.
    WEIR_ASSIGN_OR_RETURN(
        Stmt q, db_->Prepare("SELECT d.kind, d.ref, d.name, d.status,"
                             " highlight(search_fts, 1, '<mark>', '</mark>'),"
                             " snippet(search_fts, -1, '<mark>', '</mark>', '...', 16),"
                             " bm25(search_fts, 2.0, 10.0, 5.0, 1.0) AS score" +
                             from +
                             " ORDER BY (lower(d.name) = lower(?)) DESC, score ASC, d.kind ASC,"
                             " d.ref ASC LIMIT ? OFFSET ?"));
    bind_where(q);
    q.Bind(whole).Bind(static_cast<int64_t>(page.size)).Bind(offset);
    while (true) {
      WEIR_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      SearchHit h;
      WEIR_ASSIGN_OR_RETURN(h.kind, ParseSearchKind(q.Text(0)));
      h.id = q.String(1);
      h.name = q.String(2);
      h.status = q.String(3);
      h.name_highlight = q.String(4);
      h.snippet = q.String(5);
      h.score = -q.Double(6);
      out.items.push_back(std::move(h));
    }
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Status SqliteStore::PutSearchDocument(const SearchDocument& d) {
  if (d.kind != SearchKind::kWorkflow) {
    return InvalidArgument(std::string("search: ") + std::string(SearchKindName(d.kind)) +
                           " documents are kept by the store itself");
  }
  std::lock_guard lock(mu_);
  return PutDoc(d);
}

Status SqliteStore::RemoveSearchDocument(SearchKind kind, const std::string& id) {
  if (kind != SearchKind::kWorkflow) {
    return InvalidArgument(std::string("search: ") + std::string(SearchKindName(kind)) +
                           " documents are kept by the store itself");
  }
  std::lock_guard lock(mu_);
  return DeleteDoc(kind, id);
}

Status SqliteStore::ReplaceSearchDocuments(SearchKind kind,
                                           const std::vector<SearchDocument>& docs) {
  if (kind != SearchKind::kWorkflow) {
    return InvalidArgument(std::string("search: ") + std::string(SearchKindName(kind)) +
                           " documents are kept by the store itself");
  }
  for (const auto& d : docs) {
    if (d.kind != kind) return InvalidArgument("search: a document of another kind was given");
  }
  std::lock_guard lock(mu_);
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_, /*write=*/true));
  {
    WEIR_ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM search_docs WHERE kind = ?"));
    WEIR_RETURN_IF_ERROR(del.Bind(SearchKindName(kind)).Run());
  }
  for (const auto& d : docs) WEIR_RETURN_IF_ERROR(PutDoc(d));
  return tx.Commit();
}
}  // namespace weir::store::sqlite
