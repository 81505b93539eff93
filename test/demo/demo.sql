-- A guided tour of embed on real data: word vectors and document search.
--
--   psql -X -v ON_ERROR_STOP=1 -v datadir=/abs/path/to/test/data -f test/demo/demo.sql
--
-- Section 8 writes an SVG map of the word vectors to :mapfile (default
-- ./demo-map.svg).
--
-- Needs `CREATE EXTENSION embed` in the database.  Safe to rerun: it drops
-- and reloads its own tables.  The data files are described in
-- test/data/README.md.

\set ECHO none
\set QUIET on
\pset pager off
SET client_min_messages = warning;

-- Default to the repository layout when run from the repository root.
\if :{?datadir}
\else
\set datadir test/data
\endif
-- The map of section 8: demo-map.svg in the directory psql started in
-- (make demo: the repository root), unless -v mapfile=... says otherwise.
\if :{?mapfile}
\else
\set mapfile `pwd`/demo-map.svg
\endif

\echo
\echo '=== Loading data from' :datadir
\echo '    words:       the 10,000 commonest English words, fastText, 100 dims'
\echo '    doc_chunks:  678 chunks of SAP Fiori documentation, all-MiniLM-L6-v2, 384 dims'
\echo '    doc_queries: 100 further chunks of the same docs, used here as search queries'

DROP TABLE IF EXISTS words, doc_chunks, doc_queries;

-- id is the word's frequency rank: 1 is "the".
CREATE TABLE words (
    id        integer PRIMARY KEY,
    word      text NOT NULL UNIQUE,
    embedding vector(100) NOT NULL
);

CREATE TABLE doc_chunks (
    id        text PRIMARY KEY,
    title     text NOT NULL,
    content   text NOT NULL,
    embedding vector(384) NOT NULL
);

CREATE TABLE doc_queries (LIKE doc_chunks INCLUDING ALL);

-- \copy reads the files on the client side, so the server needs no access to
-- them; psql does not expand variables inside \copy, hence the \cd.
\cd :datadir
\copy words (id, word, embedding) FROM PROGRAM 'gzip -dc words-10k.tsv.gz'
\copy doc_chunks (id, title, content, embedding) FROM PROGRAM 'gzip -dc sap-fiori-chunks.tsv.gz'
\copy doc_queries (id, title, content, embedding) FROM PROGRAM 'gzip -dc sap-fiori-queries.tsv.gz'
ANALYZE words, doc_chunks, doc_queries;

RESET client_min_messages;
\set QUIET off
\set ECHO queries

SELECT 'words' AS "table", count(*) AS "rows", max(vector_dims(embedding)) AS dims FROM words
UNION ALL
SELECT 'doc_chunks', count(*), max(vector_dims(embedding)) FROM doc_chunks
UNION ALL
SELECT 'doc_queries', count(*), max(vector_dims(embedding)) FROM doc_queries;

\echo
\echo '=== 1. Nearest neighbours: the words closest to "dog" by cosine distance (<=>)'
\echo

SELECT word, round((embedding <=> (SELECT embedding FROM words WHERE word = 'dog'))::numeric, 4) AS cosine_distance
FROM words
WHERE word <> 'dog'
ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'dog')
LIMIT 5;

\echo
\echo '--- the same for several words at once, with a LATERAL subquery'
\echo

SELECT q.word, string_agg(n.word, ', ' ORDER BY n.distance) AS nearest_words
FROM words q
CROSS JOIN LATERAL (
    SELECT w.word, w.embedding <=> q.embedding AS distance
    FROM words w
    WHERE w.id <> q.id
    ORDER BY distance
    LIMIT 6
) n
WHERE q.word IN ('computer', 'music', 'river', 'happy', 'linux')
GROUP BY q.word
ORDER BY q.word;

\echo
\echo '=== 2. Analogies with vector arithmetic: king - man + woman = ?'
\echo

WITH target AS (
    SELECT (SELECT embedding FROM words WHERE word = 'king')
         - (SELECT embedding FROM words WHERE word = 'man')
         + (SELECT embedding FROM words WHERE word = 'woman') AS v
)
SELECT word, round((embedding <=> v)::numeric, 4) AS cosine_distance
FROM words, target
WHERE word NOT IN ('king', 'man', 'woman')
ORDER BY embedding <=> v
LIMIT 5;

\echo
\echo '--- a few more: a - b + c, best answer (input words excluded)'
\echo

SELECT format('%s - %s + %s', a, b, c) AS analogy, best.word AS answer
FROM (VALUES ('paris', 'france', 'england'),
             ('france', 'french', 'german'),
             ('he', 'his', 'her')) AS t(a, b, c)
CROSS JOIN LATERAL (
    SELECT w.word
    FROM words w
    WHERE w.word NOT IN (a, b, c)
    ORDER BY w.embedding <=> ((SELECT embedding FROM words WHERE word = a)
                            - (SELECT embedding FROM words WHERE word = b)
                            + (SELECT embedding FROM words WHERE word = c))
    LIMIT 1
) best;

\echo
\echo '=== 3. Sentence vectors: avg() of the vectors of a sentence''s words'
\echo '    (the 100 commonest words - the, of, a, ... - are skipped: they say little)'
\echo

CREATE TEMP TABLE sentences (id integer PRIMARY KEY, body text NOT NULL);
INSERT INTO sentences VALUES
    (1, 'The dog ran after the fox into the woods'),
    (2, 'A wolf hunted deer in the forest'),
    (3, 'The program crashed when the computer ran out of memory'),
    (4, 'Install the package and restart the server'),
    (5, 'She played a beautiful song on the piano');

CREATE TEMP VIEW sentence_vectors AS
SELECT s.id, avg(w.embedding) AS embedding, array_agg(w.word ORDER BY t.pos) AS words
FROM sentences s
CROSS JOIN LATERAL regexp_split_to_table(lower(s.body), '[^a-z'']+') WITH ORDINALITY AS t(token, pos)
JOIN words w ON w.word = t.token AND w.id > 100
GROUP BY s.id;

SELECT s.id, s.body, array_to_string(v.words, ' ') AS words_averaged
FROM sentences s JOIN sentence_vectors v USING (id)
ORDER BY id;

\echo
\echo '--- the most similar pairs of sentences (cosine similarity = 1 - cosine distance)'
\echo

SELECT a.id AS sentence, b.id AS other, round((1 - (a.embedding <=> b.embedding))::numeric, 3) AS similarity
FROM sentence_vectors a
JOIN sentence_vectors b ON a.id < b.id
ORDER BY similarity DESC
LIMIT 4;

\echo
\echo '--- the words nearest to sentence 5, other than its own words'
\echo

SELECT w.word, round((w.embedding <=> s.embedding)::numeric, 4) AS cosine_distance
FROM words w, sentence_vectors s
WHERE s.id = 5
  AND w.id > 100
  AND w.word <> ALL (s.words)
ORDER BY w.embedding <=> s.embedding
LIMIT 5;

\echo
\echo '=== 4. Semantic search over documentation chunks'
\echo '    The query is a held-out chunk; its embedding was computed by the same model.'
\echo

\set QUIET on
\x on
\set QUIET off
SELECT id, title, left(content, 120) || '...' AS content
FROM doc_queries
WHERE id = 'local-sapui5-339-chunk-0';
\set QUIET on
\x off
\set QUIET off

SELECT c.title, round((c.embedding <=> q.embedding)::numeric, 4) AS cosine_distance
FROM doc_chunks c, doc_queries q
WHERE q.id = 'local-sapui5-339-chunk-0'
ORDER BY c.embedding <=> q.embedding
LIMIT 5;

\echo
\echo '--- the best match for each of a few queries'
\echo

SELECT q.title AS query, best.title AS best_match, round(best.distance::numeric, 4) AS cosine_distance
FROM doc_queries q
CROSS JOIN LATERAL (
    SELECT c.title, c.embedding <=> q.embedding AS distance
    FROM doc_chunks c
    ORDER BY distance
    LIMIT 1
) best
WHERE q.id IN ('local-sapui5-311-chunk-0', 'local-sapui5-332-chunk-0', 'local-sapui5-381-chunk-0')
ORDER BY q.id;

\echo
\echo '=== 5. Other operators and functions'
\echo '    <-> Euclidean (L2), <#> negative inner product, <=> cosine, <+> taxicab (L1)'
\echo

SELECT '[1,2,3]'::vector <-> '[4,6,3]' AS l2,
       '[1,2,3]'::vector <#> '[4,6,3]' AS neg_inner_product,
       round(('[1,2,3]'::vector <=> '[4,6,3]')::numeric, 4) AS cosine,
       '[1,2,3]'::vector <+> '[4,6,3]' AS l1;

SELECT sum(v), avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,4,5]')) AS t(v);

SELECT word, vector_dims(embedding) AS dims,
       round(vector_norm(embedding)::numeric, 3) AS norm,
       round(vector_norm(l2_normalize(embedding))::numeric, 3) AS normalized_norm,
       subvector(embedding, 1, 3) AS first_3
FROM words
WHERE word IN ('the', 'queen')
ORDER BY id;

\echo
\echo '--- the chunk vectors have unit length, so <#> (= -cosine similarity) ranks them like <=>'
\echo

SELECT c.title, round((c.embedding <#> q.embedding)::numeric, 4) AS neg_inner_product
FROM doc_chunks c, doc_queries q
WHERE q.id = 'local-sapui5-339-chunk-0'
ORDER BY c.embedding <#> q.embedding
LIMIT 3;

\echo
\echo '=== 6. An approximate nearest-neighbour index (hnsw)'
\echo '    Without an index every query above scans the whole table.  An hnsw graph'
\echo '    answers ORDER BY ... LIMIT by visiting a few hundred rows instead.'
\echo

CREATE INDEX words_embedding_idx ON words USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64);
SET hnsw.ef_search = 40;

EXPLAIN (COSTS OFF)
SELECT word FROM words ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'dog') LIMIT 5;

SELECT word, round((embedding <=> (SELECT embedding FROM words WHERE word = 'dog'))::numeric, 4) AS cosine_distance
FROM words
WHERE word <> 'dog'
ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'dog')
LIMIT 5;

\echo
\echo '--- recall of the index for 200 words: the share of the exact 10 nearest it returns'
\echo

SET enable_indexscan = off;
CREATE TEMP TABLE exact AS
SELECT q.id, array(SELECT w.id FROM words w ORDER BY w.embedding <=> q.embedding LIMIT 10) AS ids
FROM words q WHERE q.id % 50 = 0;
RESET enable_indexscan;
SET enable_seqscan = off;
SELECT round(avg((SELECT count(*) FROM unnest(a.ids) x WHERE x = ANY (e.ids)) / 10.0), 3) AS recall_at_10
FROM exact e,
     LATERAL (SELECT array(SELECT w.id FROM words w ORDER BY w.embedding <=> q.embedding LIMIT 10) AS ids
              FROM words q WHERE q.id = e.id) a;
RESET enable_seqscan;

\echo
\echo '=== 7. A compact index (ivfrabitq): 1 bit per dimension, reranked exactly'
\echo '    k-means sorts the rows into lists; a query reads the nearest few lists,'
\echo '    estimates distances from the bits and checks the candidates that can still'
\echo '    rank against the table.  It builds in a fraction of the time of a graph,'
\echo '    and embed_index_recall() measures it against exact answers.'
\echo

DROP INDEX words_embedding_idx;
CREATE INDEX words_rabitq_idx ON words USING ivfrabitq (embedding vector_cosine_ops) WITH (lists = 100);
SET ivfrabitq.probes = 10;
SELECT pg_size_pretty(pg_relation_size('words_rabitq_idx')) AS index_size,
       pg_size_pretty(pg_column_size(embedding)::bigint * count(*) OVER ()) AS vectors_size
FROM words LIMIT 1;
SELECT word FROM words
ORDER BY embedding <=> (SELECT embedding FROM words WHERE word = 'dog')
LIMIT 5;
SELECT round(embed_index_recall('words_rabitq_idx', 200, 10)::numeric, 3) AS recall_at_10;

\echo
\echo '=== 8. Clusters and a 2-D map: kmeans(), pca() and vector_project()'
\echo '    The words of frequency rank 101-2000 and the 24 of map_labels (1,908 in all) get a'
\echo '    k-means cluster and a place on the first two principal axes; one SELECT'
\echo '    in test/demo/map.sql turns the points into an SVG file.'
\echo

\ir map.sql

\echo
\echo '--- the clusters, each with its commonest words'
\echo

SELECT cluster, count(*) AS words,
       string_agg(word, ' ' ORDER BY id) FILTER (WHERE rank <= 8) AS commonest_words
FROM (SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY id) AS rank FROM map_points) p
GROUP BY cluster
ORDER BY cluster;

\echo
\echo 'The map (x, y from vector_project, colour from vector_nearest) is in' :mapfile
\echo

\echo '=== 9. Hybrid retrieval: full text and vector search fused by rrf_score()'
\echo '    Each ranking runs on its own index (GIN, hnsw); a chunk scores'
\echo '    1 / (60 + rank) in each ranking it appears in, and the scores add up.'
\echo

\set ECHO none
\set QUIET on
SET client_min_messages = warning;  -- to_tsvector: "word is too long to be indexed"
\set QUIET off
\set ECHO queries
ALTER TABLE doc_chunks ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
CREATE INDEX ON doc_chunks USING gin (tsv);
CREATE INDEX ON doc_chunks USING hnsw (embedding vector_cosine_ops);
\set ECHO none
\set QUIET on
RESET client_min_messages;
\set QUIET off
\set ECHO queries

-- the words a user typed and, standing in for their embedding, a held-out chunk's vector
WITH query AS (
    SELECT plainto_tsquery('english', 'custom filter field') AS words,
           (SELECT embedding FROM doc_queries WHERE id = 'local-sapui5-339-chunk-0') AS v
), fts AS (
    SELECT id, row_number() OVER (ORDER BY ts_rank(tsv, words) DESC, id) AS rank
    FROM doc_chunks, query
    WHERE tsv @@ words
    ORDER BY rank LIMIT 20
), vec AS (
    SELECT id, row_number() OVER (ORDER BY d, id) AS rank
    FROM (SELECT id, embedding <=> (SELECT v FROM query) AS d
          FROM doc_chunks ORDER BY d LIMIT 20) s
)
SELECT title, fts.rank AS fts_rank, vec.rank AS vec_rank,
       round((coalesce(rrf_score(fts.rank), 0) + coalesce(rrf_score(vec.rank), 0))::numeric, 5) AS score
FROM fts FULL JOIN vec USING (id) JOIN doc_chunks USING (id)
ORDER BY score DESC, id
LIMIT 5;

\echo
\echo '    The chunks have no relevance labels; test/t/033_hybrid_retrieval.pl measures'
\echo '    the fusion on 12 queries that have a known answer: mean reciprocal rank 0.570'
\echo '    by full text, 0.771 by vector, 0.796 fused (README.md "Hybrid retrieval").'

\set ECHO none
\echo
\echo '=== Done.'
