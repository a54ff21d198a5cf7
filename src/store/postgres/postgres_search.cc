// PostgresStore: the search index (SearchIndex) over the search_docs table.

#include "store/postgres/postgres_store_internal.h"
#include "store/postgres/text_search.h"

namespace weir::store::postgres {

// ---- SearchIndex ------------------------------------------------------------------------------

namespace {

Status OnlyHandedInKinds(SearchKind kind) {
  if (kind == SearchKind::kWorkflow) return Status::Ok();
  return InvalidArgument(std::string("search: ") + std::string(SearchKindName(kind)) +
                         " documents are kept by the store itself");
}

}  // namespace

Status PostgresStore::RebuildSearchIfNeeded() {
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  // The row lock makes a second server opening the database at once wait, then see it done.
  WEIR_ASSIGN_OR_RETURN(Rows flag, c->Exec("SELECT pending FROM search_rebuild FOR UPDATE"));
  bool pending = false;
  for (int i = 0; i < flag.size(); ++i) pending = pending || flag.Int(i, 0) != 0;
  if (!pending) return tx.Commit();
  for (Kind kind : {Kind::kApplication, Kind::kCommand, Kind::kCluster}) {
    WEIR_ASSIGN_OR_RETURN(Rows r,
                          c->Exec("SELECT " + EntityColumns("") + " FROM " + Tables(kind).table));
    WEIR_ASSIGN_OR_RETURN(std::vector<ConfigEntity> entities, ReadEntities(r, kind));
    for (const auto& e : entities) WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(e)));
  }
  {
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec(std::string("SELECT ") + kJobColumns + " FROM jobs"));
    WEIR_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, ReadJobs(r));
    for (const auto& j : jobs) WEIR_RETURN_IF_ERROR(PutDoc(*c, DocOf(j)));
  }
  WEIR_RETURN_IF_ERROR(c->Exec("UPDATE search_rebuild SET pending = 0").status());
  return tx.Commit();
}

Result<Page<SearchHit>> PostgresStore::SearchText(const SearchQuery& query,
                                                  const PageRequest& page) {
  WEIR_RETURN_IF_ERROR(CheckPage(page));
  if (query.terms.empty()) return InvalidArgument("q: give at least one word");
  const std::string tsquery = TsQueryLiteral(query.terms);
  if (tsquery.empty()) return Page<SearchHit>{};
  std::string whole;
  for (const auto& t : query.terms) sqlite::AddText(&whole, t);
  std::vector<std::string> kinds;
  for (SearchKind k : query.kinds) kinds.emplace_back(SearchKindName(k));
  Params params;
  const std::string q = params.Next(tsquery) + "::tsquery";
  std::string from = " FROM search_docs WHERE doc @@ " + q;
  kinds = Unique(std::move(kinds));
  for (size_t i = 0; i < kinds.size(); ++i) {
    from += (i == 0 ? " AND kind IN (" : ", ") + params.Next(kinds[i]);
  }
  if (!kinds.empty()) from += ")";
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c, /*snapshot=*/true));
  Page<SearchHit> out;
  {
    WEIR_ASSIGN_OR_RETURN(Rows r, c->Exec("SELECT COUNT(*)" + from, params));
    out.total = r.size() > 0 ? r.Int(0, 0) : 0;
  }
  const int64_t offset = static_cast<int64_t>(page.page) * page.size;
  if (offset < out.total) {
    // ts_rank's weights are {D, C, B, A}: text, id, tags, name (as the SQLite bm25 weights).
    const std::string name = params.Next(whole);
    const std::string limit = params.Next(static_cast<int64_t>(page.size));
    const std::string off = params.Next(offset);
    WEIR_ASSIGN_OR_RETURN(
        Rows r,
        c->Exec("SELECT kind, ref, name, status, tags, text,"
                " ts_rank('{0.1, 0.2, 0.5, 1.0}', doc, " +
                    q + ") AS score" + from + " ORDER BY (lower(name) = lower(" + name +
                    ")) DESC, score DESC, kind ASC, ref ASC LIMIT " + limit + " OFFSET " + off,
                params));
    const WordMatcher matcher(query.terms);
    for (int i = 0; i < r.size(); ++i) {
      SearchHit h;
      WEIR_ASSIGN_OR_RETURN(h.kind, ParseSearchKind(r.Text(i, 0)));
      h.id = r.String(i, 1);
      h.name = r.String(i, 2);
      h.status = r.String(i, 3);
      h.name_highlight = MarkWords(h.name, matcher);
      h.snippet = Snippet({r.Text(i, 2), r.Text(i, 4), r.Text(i, 1), r.Text(i, 5)}, matcher);
      h.score = std::stod(r.String(i, 6));
      out.items.push_back(std::move(h));
    }
  }
  WEIR_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Status PostgresStore::PutSearchDocument(const SearchDocument& d) {
  WEIR_RETURN_IF_ERROR(OnlyHandedInKinds(d.kind));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return PutDoc(*c, d);
}

Status PostgresStore::RemoveSearchDocument(SearchKind kind, const std::string& id) {
  WEIR_RETURN_IF_ERROR(OnlyHandedInKinds(kind));
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  return DeleteDoc(*c, kind, id);
}

Status PostgresStore::ReplaceSearchDocuments(SearchKind kind,
                                             const std::vector<SearchDocument>& docs) {
  WEIR_RETURN_IF_ERROR(OnlyHandedInKinds(kind));
  for (const auto& d : docs) {
    if (d.kind != kind) return InvalidArgument("search: a document of another kind was given");
  }
  WEIR_ASSIGN_OR_RETURN(Pool::Lease c, pool_->Acquire());
  WEIR_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*c));
  Params p;
  p.Add(SearchKindName(kind));
  WEIR_RETURN_IF_ERROR(c->Exec("DELETE FROM search_docs WHERE kind = $1", p).status());
  for (const auto& d : docs) WEIR_RETURN_IF_ERROR(PutDoc(*c, d));
  return tx.Commit();
}

}  // namespace weir::store::postgres
