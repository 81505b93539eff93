# Malformed binary `vector` values sent by real clients: as Bind parameters
# from node-postgres, and as COPY ... FROM STDIN (FORMAT binary) from psql with
# files crafted byte by byte. Each must fail with the right SQLSTATE, the
# server must stay up, and committed data must survive.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use EmbedTest;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my $node = PostgreSQL::Test::Cluster->new('recv');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION embed');
$node->safe_psql('postgres', q{
	CREATE TABLE recv_target (id int PRIMARY KEY, v3 vector(3), v vector, va vector(3)[]);
	INSERT INTO recv_target VALUES (1, '[1,2,3]', '[4,5,6,7]'), (2, NULL, '[0.5]');
});
my $user = $node->safe_psql('postgres', 'SELECT current_user');
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $vector_oid = $node->safe_psql('postgres', q{SELECT 'vector'::regtype::oid});

# Rows that must never change, whatever the errors below do.
my $committed_sql =
  q{SELECT string_agg(id || ':' || coalesce(v3::text, '-') || ':' || coalesce(v::text, '-'), ' ' ORDER BY id) FROM recv_target WHERE id < 1000};
my $committed = $node->safe_psql('postgres', $committed_sql);
is($committed, '1:[1,2,3]:[4,5,6,7] 2:-:[0.5]', 'baseline rows');

# SQLSTATEs: 22P03 invalid_binary_representation, 22000 data_exception,
# 54000 program_limit_exceeded. As in pgvector: too few dims is a data
# exception, too many a program limit.
my $dim_low = qr/^22000$/;
my $dim_high = qr/^54000$/;
my $malformed = qr/^22P03$/;
my $bad_value = qr/^22000$/;

##### Bind parameters from node-postgres

{
	my ($ok, $out, $err) = run_node($node, $user, 'postgres', 'binary_recv.mjs');
	ok($ok, 'binary_recv.mjs ran to the end') or diag("stdout:\n$out\nstderr:\n$err");

	my %code;
	my %msg;
	for (split /\n/, $out)
	{
		next unless /^case (\S+) (\S+) ?(.*)$/;
		$code{$1} = $2;
		$msg{$1} = $3;
	}
	my @expect = (
		[ dim0 => $dim_low ],
		[ dim16001 => $dim_high ],
		# 65535 dims but 12 bytes of data: out of range or short, either is right
		[ dim65535 => qr/^(22000|54000|22P03)$/ ],
		[ unused1 => qr/^(22P03|22000)$/ ],
		[ unused_ffff => qr/^(22P03|22000)$/ ],
		[ truncated_floats => $malformed ],
		[ truncated_partial_float => $malformed ],
		[ truncated_header => $malformed ],
		[ empty => $malformed ],
		[ trailing_bytes => $malformed ],
		[ trailing_float => $malformed ],
		[ nan => $bad_value ],
		[ nan_payload => $bad_value ],
		[ inf => $bad_value ],
		[ neg_inf => $bad_value ],
		[ typmod_dim2 => $bad_value ],
		[ typmod_dim4 => $bad_value ],
		[ good_v3 => qr/^none$/ ],
		[ good_v_max => qr/^none$/ ],
		[ cast_nan => $bad_value ],
		[ cast_dim0 => $dim_low ],
		[ cast_truncated => $malformed ],);
	for my $e (@expect)
	{
		my ($name, $re) = @$e;
		like($code{$name} // '(no result)', $re,
			"bind parameter $name: SQLSTATE") or diag($msg{$name} // '');
	}
	# Values that are wrong rather than merely short should say what is wrong.
	like($msg{nan} // '', qr/nan|finite/i, 'NaN error names the problem');
	like($msg{inf} // '', qr/inf|finite/i, 'Infinity error names the problem');
	like($msg{typmod_dim2} // '', qr/\b3\b.*\b2\b|\b2\b.*\b3\b/, 'dimension error names both dims');
	like($out, qr/^rows 4$/m, 'same connection works afterwards; only the 2 good rows were added');
}

##### COPY FROM STDIN (FORMAT binary) from psql

# Binary COPY stream: signature, flags, header extension length, tuples, trailer.
sub copy_file
{
	my ($name, @tuples) = @_;
	my $data = "PGCOPY\n\377\r\n\0" . pack('NN', 0, 0);
	for my $t (@tuples)
	{
		$data .= pack('n', scalar @$t);
		for my $field (@$t)
		{
			$data .= defined $field ? pack('N', length $field) . $field : pack('N', 0xffffffff);
		}
	}
	$data .= pack('n', 0xffff);
	my $path = "$tmp/$name.bin";
	open my $fh, '>:raw', $path or die "$path: $!";
	print $fh $data;
	close $fh;
	return $path;
}

sub int4 { pack('N', $_[0]) }
sub vhead { pack('nn', $_[0], $_[1] // 0) }
sub f4 { pack('f>*', @_) }
sub vec4 { vhead(scalar @_) . f4(@_) }

# One-dimensional array of vectors in array_recv's format: ndim, has-null
# flag, element type oid, (length, lower bound), then length-prefixed elements.
sub varray
{
	my @elems = @_;
	return pack('NNN', 1, 0, $vector_oid) . pack('NN', scalar @elems, 1)
	  . join('', map { pack('N', length $_) . $_ } @elems);
}

# Try to load (id, column) tuples; the first tuple is always a good one, so a
# failure must also roll that back.
my $next_id = 5000;

sub try_copy
{
	my ($name, $col, $bad) = @_;
	my ($id1, $id2) = ($next_id, $next_id + 1);
	$next_id += 2;
	my $good =
	    $col eq 'v3' ? vec4(7, 8, 9)
	  : $col eq 'va' ? varray(vec4(7, 8, 9))
	  :                vec4(7);
	my $file = copy_file($name, [ int4($id1), $good ], [ int4($id2), $bad ]);
	my ($stdout, $stderr);
	$node->psql('postgres',
		"\\set VERBOSITY verbose\n\\copy recv_target (id, $col) FROM '$file' (FORMAT binary)",
		stdout => \$stdout, stderr => \$stderr);
	my ($code) = ($stderr // '') =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($code // 'none', $stderr // '', $id1, $id2);
}

my @copy_cases = (
	[ dim0 => 'v', vhead(0), $dim_low ],
	[ dim16001 => 'v', vhead(16001) . f4((1) x 16001), $dim_high ],
	[ unused1 => 'v', vhead(1, 1) . f4(1), qr/^(22P03|22000)$/ ],
	[ truncated => 'v', vhead(3) . f4(1, 2), $malformed ],
	[ truncated_header => 'v', "\0\1", $malformed ],
	[ trailing => 'v', vec4(1, 2) . "\0\0", $malformed ],
	[ nan => 'v', vhead(2) . pack('NN', 0x3f800000, 0x7fc00000), $bad_value ],
	[ inf => 'v', vhead(1) . pack('N', 0x7f800000), $bad_value ],
	[ neg_inf => 'v', vhead(1) . pack('N', 0xff800000), $bad_value ],
	# COPY passes the column's typmod to recv, which must enforce it.
	[ typmod_dim2 => 'v3', vec4(1, 2), $bad_value ],
	[ typmod_dim4 => 'v3', vec4(1, 2, 3, 4), $bad_value ],
	# Arrays hand each element to recv with the column's typmod, too.
	[ array_typmod => 'va', varray(vec4(1, 2, 3), vec4(1, 2)), $bad_value ],
	[ array_nan => 'va', varray(vhead(3) . pack('NNN', 0, 0x7fc00000, 0)), $bad_value ],
	[ array_truncated => 'va', varray(vhead(3) . f4(1, 2)), $malformed ],
	[ array_dim0 => 'va', varray(vhead(0)), $dim_low ],);
for my $c (@copy_cases)
{
	my ($name, $col, $bytes, $re) = @$c;
	my ($code, $stderr) = try_copy("copy_$name", $col, $bytes);
	like($code, $re, "COPY BINARY $name: SQLSTATE") or diag($stderr);
}

is($node->safe_psql('postgres', 'SELECT count(*) FROM recv_target WHERE id >= 5000'),
	'0', 'failed COPYs left no rows behind (not even their good first tuple)');

# Control: the same machinery with a good second tuple loads both rows exactly.
my ($code, $stderr, $g1, $g2) = try_copy('copy_good', 'v3', vhead(3) . pack('NNN', 0x80000000, 0x00000001, 0x7f7fffff));  # -0, smallest subnormal, FLT_MAX
is($code, 'none', 'well-formed COPY BINARY is accepted') or diag($stderr);
is( $node->safe_psql('postgres',
		"SELECT string_agg(v3::text, ' ' ORDER BY id) FROM recv_target WHERE id IN ($g1, $g2)"),
	'[7,8,9] [-0,1e-45,3.4028235e+38]',
	'COPY BINARY values are exact');
($code, $stderr, $g1, $g2) = try_copy('copy_good_array', 'va', varray(vec4(1, 2, 3), vec4(-1, 0.5, 0)));
is($code, 'none', 'well-formed COPY BINARY array of vectors is accepted') or diag($stderr);
is( $node->safe_psql('postgres', "SELECT va::text FROM recv_target WHERE id = $g2"),
	'{"[1,2,3]","[-1,0.5,0]"}', 'COPY BINARY array of vectors is exact');

##### The server survived all of it

is($node->safe_psql('postgres', $committed_sql), $committed, 'committed rows unchanged');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$start_time, 'postmaster never restarted (no backend crash)');
ok(!$node->log_contains(qr/terminated by signal|was terminated by/),
	'no crashed backend in the log');
is($node->safe_psql('postgres', q{SELECT '[3,4]'::vector <-> '[0,0]'}), '5',
	'server answers queries afterwards');

$node->stop;
done_testing();
