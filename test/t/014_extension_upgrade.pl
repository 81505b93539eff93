# Extension versions: a database made with embed 0.1.0 (data, hnsw and ivf
# indexes) upgrades with ALTER EXTENSION embed UPDATE, keeps answering the
# same queries through its indexes, gains 0.2.0's objects, and ends up with
# exactly the objects a fresh 0.2.0 install has.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EmbedTest;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE old; CREATE DATABASE fresh');
$node->safe_psql('old', q{CREATE EXTENSION embed VERSION '0.1.0'});
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'embed'}),
	'0.1.0', 'the 0.1.0 install script is still shipped');
load_words($node, 'old', 'words');
$node->safe_psql('old', q{
	CREATE TABLE d AS SELECT id, v FROM words WHERE id <= 3000;
	CREATE INDEX d_hnsw ON d USING hnsw (v vector_cosine_ops);
	CREATE INDEX d_ivf ON d USING ivfflat (v vector_l2_ops) WITH (lists = 20);
});

# ids found through each index for 20 queries
my %queries = (
	hnsw => q{SET enable_seqscan = off; SET ivfflat.probes = 20;
		SELECT string_agg(n.ids, ';' ORDER BY q.id) FROM (SELECT id, v FROM words WHERE id % 500 = 7) q,
		LATERAL (SELECT string_agg(id::text, ',') AS ids FROM
		         (SELECT id FROM d ORDER BY v <=> q.v LIMIT 5) s) n},
	ivfflat => q{SET enable_seqscan = off; SET ivfflat.probes = 20;
		SELECT string_agg(n.ids, ';' ORDER BY q.id) FROM (SELECT id, v FROM words WHERE id % 500 = 7) q,
		LATERAL (SELECT string_agg(id::text, ',') AS ids FROM
		         (SELECT id FROM d ORDER BY v <-> q.v LIMIT 5) s) n});
my %before = map { $_ => $node->safe_psql('old', $queries{$_}) } keys %queries;
like($before{$_}, qr/^\d+(,\d+){4}(;\d+(,\d+){4}){19}$/, "0.1.0: $_ answers 20 queries") for sort keys %queries;

my ($rc, $out, $err) = $node->psql('old', q{SELECT hamming_distance(B'1', B'0')});
isnt($rc, 0, '0.1.0 has no hamming_distance');

$node->safe_psql('old', 'ALTER EXTENSION embed UPDATE');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'embed'}),
	'0.2.0', 'ALTER EXTENSION embed UPDATE goes to 0.2.0');
is($node->safe_psql('old', $queries{$_}), $before{$_}, "after the update: $_ gives the same answers")
  for sort keys %queries;
is($node->safe_psql('old', q{SELECT hamming_distance(B'1011', B'0010') || ' ' || round((B'1011' <%> B'0011')::numeric, 4)}),
	'2 0.3333', 'after the update: the bit functions and operators work');
is($node->safe_psql('old', q{SELECT l2_distance('[0,0]', '[3,4]') || ' ' || vector_dims('[1,2]')
	|| ' ' || ('[1,2]'::halfvec <-> '[4,6]') || ' ' || (SELECT typispreferred FROM pg_type WHERE typname = 'vector')}),
	'5 2 5 true', 'after the update: halfvec works and untyped literals still mean vector');
$node->safe_psql('old', q{
	CREATE TABLE h AS SELECT id, v::halfvec(100) AS v FROM d;
	CREATE INDEX h_hnsw ON h USING hnsw (v halfvec_cosine_ops);
});
is($node->safe_psql('old', q{SET enable_seqscan = off;
	SELECT id FROM h ORDER BY v <=> (SELECT v FROM h WHERE id = 1234) LIMIT 1}),
	'1234', 'after the update: a halfvec hnsw index works');
$node->safe_psql('old', q{
	INSERT INTO d SELECT id, v FROM words WHERE id > 3000 AND id <= 3200;
	CREATE TABLE b AS SELECT id, binary_quantize(v)::bit(100) AS c FROM d;
	CREATE INDEX b_h ON b USING hnsw (c bit_hamming_ops);
});
is($node->safe_psql('old', q{SET enable_seqscan = off;
	SELECT id FROM b ORDER BY c <~> (SELECT c FROM b WHERE id = 3100) LIMIT 1}),
	'3100', 'after the update: inserts and a new bit index work');

# Same objects as a fresh install
$node->safe_psql('fresh', 'CREATE EXTENSION embed');
my $members = q{
	SELECT string_agg(o, E'\n' ORDER BY o) FROM (
	SELECT pg_describe_object(classid, objid, objsubid) AS o
	FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'embed')) m};
my $fresh = $node->safe_psql('fresh', $members);
my $upgraded = $node->safe_psql('old', $members);
ok($fresh eq $upgraded, 'an upgraded database has exactly the objects of a fresh 0.2.0 install')
  or diag("fresh:\n$fresh\n\nupgraded:\n$upgraded");
my $types = q{SELECT string_agg(format('%s %s %s %s', typname, typcategory, typispreferred, typstorage), ',' ORDER BY typname)
	FROM pg_type WHERE typname IN ('vector', 'halfvec')};
is($node->safe_psql('old', $types), $node->safe_psql('fresh', $types),
	'an upgraded database has the types of a fresh install (vector preferred)');
cmp_ok(scalar(split /\n/, $fresh), '>', 80, 'the member list is the real one');

$node->stop;
done_testing();
