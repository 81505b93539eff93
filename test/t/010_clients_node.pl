# Wire compatibility with real pgvector client code: node-postgres plus the
# official `pgvector` npm package, in text and binary formats, for vector,
# halfvec, sparsevec and bit
# (test/clients/pgvector_node.mjs does the talking, with pg-copy-streams for
# binary COPY; this file judges it).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use EmbedTest;

my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
my $clients = "$root/test/clients";

# npm ci is a precondition of the suite; a missing client is a failure, not a skip.
ok(-d "$clients/node_modules/pg" && -d "$clients/node_modules/pgvector"
	  && -d "$clients/node_modules/pg-copy-streams",
	'client packages installed (npm ci in test/clients)')
  or BAIL_OUT("run `npm ci` in $clients first");

my $node = PostgreSQL::Test::Cluster->new('clients');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE clients');
$node->safe_psql('clients', 'CREATE EXTENSION embed');
my $user = $node->safe_psql('postgres', 'SELECT current_user');

my ($ok, $out, $err) = run_node($node, $user, 'clients', 'pgvector_node.mjs');
ok($ok, 'node client script exits 0') or diag("stdout:\n$out\nstderr:\n$err");

# Every check the script makes must have reported, in order.
my @expected = (
	'registerTypes',
	'insert via text parameters, binary parameters and binary COPY',
	'text results parse to number arrays',
	'binary results decode',
	'binary echo is byte-identical',
	'order by <-> with text parameter',
	'order by <-> with binary parameter',
	'float4 round trip (0.1, 1e-45, 3.4028235e38, -0)',
	'null vectors',
	'16000-dim vector round trip',
	'dimension mismatch rejected, session usable',
	'halfvec: text, binary parameters, binary COPY, send, <->, out of range',
	'sparsevec: text and binary parameters, binary COPY, parsed to SparseVector, send',
	'sparsevec: <-> <#> <=> <+> match, order by <-> with text and binary parameters, hnsw',
	'sparsevec: 1e9 dimensions, empty, float4 extremes',
	'sparsevec: wrong dims, unsorted, out of range, zero value rejected',
	'bit: text strings and binary parameters, binary COPY',
	'bit: <~> <%> and the functions match, binary_quantize, order by <~> via hnsw',
	'done');
my @got = map { s/^ok //r } grep { /^(ok |done$)/ } split /\n/, $out;
for my $i (0 .. $#expected)
{
	is($got[$i] // '(missing)', $expected[$i], "client check: $expected[$i]");
}

# What the client wrote is what SQL sees: the rows it inserted, text and
# binary parameters alike, read back through SQL (not through the client).
is( $node->safe_psql('clients',
		'SELECT string_agg(id || \'=\' || coalesce(embedding::text, \'null\'), \' \' ORDER BY id) FROM items'),
	'1=[1,1,1] 2=[2,2,2] 3=[1,1,2.5] 4=[0.5,1,1] 5=[-3,4,0.25] 6=[1.5,0.75,1.125] 7=[0.1,-0.2,0.3] 8=[10,10,-10] 9=null 10=null',
	'rows written by the client are exact in SQL');
is( $node->safe_psql('clients',
		'SELECT string_agg(id || \'=\' || embedding::text, \' \' ORDER BY id) FROM sitems'),
	'1={1:1,3:2}/5 2={3:3,5:-1.5}/5 3={2:0.5,5:4}/5 4={1:1,2:1,3:1,4:1,5:1}/5 5={4:-2}/5 6={1:2.25,5:0.125}/5',
	'sparsevec rows written by the client are exact in SQL');
is( $node->safe_psql('clients',
		'SELECT string_agg(id || \'=\' || embedding::text, \' \' ORDER BY id) FROM bitems'),
	'1=101100101 2=111111111 3=000000001 4=101100100 5=010011010 6=100000000',
	'bit rows written by the client are exact in SQL');

# The server did not crash or restart underneath the client.
ok(!$node->log_contains(qr/terminated by signal|server process .* was terminated/),
	'no backend crash in the server log');

$node->stop;
done_testing();
