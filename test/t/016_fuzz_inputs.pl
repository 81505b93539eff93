# Fuzzes every input function embed has, in the server: the text input of
# vector, halfvec and sparsevec (and their typmod_in), their binary input
# (recv, through COPY FROM ... (FORMAT binary)), and the option parsing of
# CREATE INDEX ... USING hnsw / ivfflat / ivfrabitq WITH (...).
#
# Inputs are mutations of the corpus in test/fuzz/corpus/<kind>/ (valid and
# near-valid inputs): bit flips, byte insertions and deletions, truncation,
# splicing two entries, special tokens (NaN, inf, 1e39, 65520, -0, huge
# exponents, long digit strings, whitespace, unbalanced brackets, dims and
# counts at and beyond the limits), and for binary payloads interesting
# integers and float bit patterns written over random fields.  A seeded PRNG
# drives it: the seed is printed, EMBED_FUZZ_SEED=N replays a run, and
# EMBED_FUZZ_COUNT=N sets the number of text inputs per type (binary inputs
# and option strings are scaled from it).
#
# Asserted:
#   - the server never crashes: same postmaster start time, no "terminated by
#     signal" in the log, the session survives every input;
#   - every rejection carries one of the allowed SQLSTATEs (below; never
#     XX000 or anything else);
#   - every accepted value round-trips: text -> value -> text -> value gives
#     the same send() bytes and the same text; binary payload -> recv ->
#     send() gives the payload's bytes; accepted index options give an
#     index whose reloptions, fed back to CREATE INDEX, are accepted again
#     and come out the same.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::RealBin;
use EmbedTest;

my $root = $ENV{EMBED_ROOT} // "$FindBin::RealBin/../..";
my $corpus = "$root/test/fuzz/corpus";
my $seed = $ENV{EMBED_FUZZ_SEED} // ((time() ^ ($$ << 15)) & 0x7fffffff);
my $count = $ENV{EMBED_FUZZ_COUNT} // 4000;
my $nbin = int($count / 2);       # binary payloads per type
my $nopt = int($count / 10);      # option strings per access method
my $nmod = int($count / 20);      # typmods per type
srand($seed);
diag("016_fuzz_inputs: seed $seed (EMBED_FUZZ_SEED=$seed replays), count $count");

# The allowed SQLSTATEs, by input kind.
#   22P02 invalid_text_representation   syntax errors
#   22003 numeric_value_out_of_range    a number beyond float4 / the element
#                                       type, an index out of range
#   22000 data_exception                NaN, infinity, no dimension, a
#                                       repeated index, typmod mismatch
#   54000 program_limit_exceeded        too many dimensions / non-zeros
#   22P03 invalid_binary_representation malformed payloads, and COPY's
#                                       "incorrect binary data format" for
#                                       bytes left over after recv
#   22023 invalid_parameter_value       a bad typmod; an unknown, repeated,
#                                       malformed or out-of-range option,
#                                       ef_construction < 2 * m
#   42601 syntax_error                  typmods and WITH lists the grammar
#                                       rejects
# and for typmods only, from PostgreSQL's own int4 parsing of a quoted
# typmod ('3x', '99999999999') before embed's typmod_in sees it: 22P02 and
# 22003.
my %allowed = (
	text => [qw(22P02 22003 22000 54000)],
	binary => [qw(22P03 22000 54000)],
	typmod => [qw(22023 42601 22P02 22003)],
	options => [qw(22023 42601)],
);

my @types = qw(vector halfvec sparsevec);
my @ams = qw(hnsw ivfflat ivfrabitq);

sub read_corpus
{
	my ($dir, $hex) = @_;
	opendir(my $dh, "$corpus/$dir") or die "$corpus/$dir: $!";
	my @out;
	for my $f (sort grep { !/^\./ } readdir $dh)
	{
		my $s = slurp_file("$corpus/$dir/$f");
		if ($hex)
		{
			$s =~ s/\s+//g;
			$s = pack('H*', $s);
		}
		elsif ($dir =~ /^options/)
		{
			$s =~ s/\n\z//;
		}
		push @out, $s;
	}
	closedir $dh;
	die "empty corpus $dir" unless @out;
	return @out;
}

sub pick { return $_[ int(rand(@_)) ] }

my @text_tokens = (
	'NaN', 'nan', '-NaN', 'inf', '-inf', 'Infinity', '-Infinity', '1e39', '-1e39',
	'3.4028235e38', '3.4028236e38', '65504', '65520', '65519.99', '-65520', '-0',
	'0', '1e-45', '1e-46', '6e-8', '1e-8', '1e999999999999', '-1e-999999999999',
	'0x1p3', '0x', '1e', '1e+', '.', '-.', '+', '-', 'e5', '9' x 400,
	'0.' . ('0' x 400) . '1', '1' . ('0' x 60), ' ', "\t", "\n", "\r", "\x0b", "\f",
	'[', ']', '{', '}', ',', ':', '/', '[[', ']]', '{}', '16000', '16001', '65535',
	'1000000000', '1000000001', '2147483647', '2147483648', '-2147483649',
	'4294967297', '9223372036854775807', '9223372036854775808', '-1', '0', "\x80",
	"\xff", "\\", '"', "'");

# Numbers in a text input, to be swapped for a token.
my $num_re = qr/[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/;

sub mutate_text
{
	my ($s, $pool) = @_;
	my $n = 1 + int(rand(4));
	for (1 .. $n)
	{
		my $len = length $s;
		my $pos = int(rand($len + 1));
		my $op = int(rand(9));
		if ($op == 0 && $len)    # flip a bit
		{
			my $p = int(rand($len));
			substr($s, $p, 1) = chr(ord(substr($s, $p, 1)) ^ (1 << int(rand(8))));
		}
		elsif ($op == 1)         # insert a random byte
		{
			substr($s, $pos, 0) = chr(int(rand(256)));
		}
		elsif ($op == 2 && $len)    # delete a range
		{
			substr($s, $pos, 1 + int(rand(4))) = '' if $pos < $len;
		}
		elsif ($op == 3)            # truncate
		{
			$s = substr($s, 0, $pos);
		}
		elsif ($op == 4)            # splice with another entry
		{
			my $o = pick(@$pool);
			$s = substr($s, 0, $pos) . substr($o, int(rand(length($o) + 1)));
		}
		elsif ($op == 5)            # insert a token
		{
			substr($s, $pos, 0) = pick(@text_tokens);
		}
		elsif ($op == 6)            # replace a number with a token
		{
			my @m;
			push @m, [ $-[0], $+[0] - $-[0] ] while $s =~ /$num_re/g;
			if (@m)
			{
				my $m = pick(@m);
				substr($s, $m->[0], $m->[1]) = pick(@text_tokens);
			}
		}
		elsif ($op == 7 && $len)    # duplicate a range
		{
			my $l = 1 + int(rand(16));
			substr($s, $pos, 0) = substr($s, int(rand($len)), $l) x (1 + int(rand(8)));
		}
		else                        # replace a number with a random one
		{
			$s =~ s/$num_re/(rand() < 0.5 ? '-' : '') . int(rand(1 << int(rand(32))))/e;
		}
	}
	$s =~ tr/\0/ /;    # text cannot hold NUL
	return $s;
}

# Generated inputs near the limits: long lists and many pairs.
sub big_text
{
	my ($type) = @_;
	my $n = pick(1, 2, 15999, 16000, 16001, 16002, 1 + int(rand(20000)));
	if ($type eq 'sparsevec')
	{
		my $dim = pick($n, $n - 1, 1000000000, 1000000001);
		my @idx = (1 .. $n);
		@idx = reverse @idx if rand() < 0.3;
		return '{' . join(',', map { "$_:" . pick('1', '0', '-2.5', '1e-45') } @idx) . "}/$dim";
	}
	return '[' . join(',', map { pick('1', '0', '-0', '1e-3', '65504') } 1 .. $n) . ']';
}

my @be16 = map { pack('n', $_) } (0, 1, 2, 3, 0x7fff, 0x8000, 0xffff, 16000, 16001,
	0x3c00, 0x7bff, 0x7c00, 0x7e00, 0xfc00, 0x0001, 0x8001);
my @be32 = map { pack('N', $_) } (0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 16000,
	16001, 1000000000, 1000000001, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f7fffff,
	0x00000001, 0x80000000, 0x3f800000, 0x00800000);

sub mutate_bin
{
	my ($s, $pool) = @_;
	my $n = 1 + int(rand(4));
	for (1 .. $n)
	{
		my $len = length $s;
		my $pos = int(rand($len + 1));
		my $op = int(rand(8));
		if ($op == 0 && $len)
		{
			my $p = int(rand($len));
			substr($s, $p, 1) = chr(ord(substr($s, $p, 1)) ^ (1 << int(rand(8))));
		}
		elsif ($op == 1)
		{
			substr($s, $pos, 0) = chr(int(rand(256))) x (1 + int(rand(4)));
		}
		elsif ($op == 2 && $len)
		{
			substr($s, $pos, 1 + int(rand(4))) = '' if $pos < $len;
		}
		elsif ($op == 3)
		{
			$s = substr($s, 0, $pos);
		}
		elsif ($op == 4)
		{
			my $o = pick(@$pool);
			$s = substr($s, 0, $pos) . substr($o, int(rand(length($o) + 1)));
		}
		elsif ($op == 5)    # overwrite an aligned field with an interesting value
		{
			my $w = rand() < 0.5 ? 2 : 4;
			my $p = $w * int(rand(int($len / $w) + 1));
			substr($s, $p, $w) = pick($w == 2 ? @be16 : @be32) if $p <= $len;
		}
		elsif ($op == 6)    # append random bytes
		{
			$s .= join('', map { chr(int(rand(256))) } 1 .. 1 + int(rand(12)));
		}
		else                # one random byte
		{
			substr($s, int(rand($len)), 1) = chr(int(rand(256))) if $len;
		}
	}
	return $s;
}

# A well-formed payload with random values (mostly accepted).
sub valid_bin
{
	my ($type) = @_;
	if ($type eq 'sparsevec')
	{
		my $dim = pick(1, 5, 100, 16000, 1000000000);
		my $nnz = int(rand(($dim < 20 ? $dim : 20) + 1));
		my %seen;
		my @idx = sort { $a <=> $b } grep { !$seen{$_}++ } map { int(rand($dim)) } 1 .. $nnz;
		return pack('NNN', $dim, scalar @idx, 0) . pack('N*', @idx)
		  . pack('N*', map { 0x3f800000 + int(rand(0x1000000)) } @idx);
	}
	my $dim = 1 + int(rand(40));
	if ($type eq 'halfvec')
	{
		return pack('nn', $dim, 0) . pack('n*', map { int(rand(0x7c00)) | (rand() < 0.5 ? 0x8000 : 0) } 1 .. $dim);
	}
	return pack('nn', $dim, 0) . pack('N*', map { int(rand(0x7f800000)) | (rand() < 0.5 ? 0x80000000 : 0) } 1 .. $dim);
}

my @opt_tokens = (
	'm', 'ef_construction', 'precision', 'lists', 'full', 'half', "'full'", '=', ',', ' ',
	'0', '1', '2', '-1', '4', '100', '101', '1000', '1001', '32768', '32769', '2147483648',
	'99999999999999999999', '1e3', '1.5', "'", '"', "''", '""', '(', ')', 'toast.', '.',
	'true', 'off', 'NULL', "\t", "\n", '--', '/*', '*/', '$$', 'E\'\\x\'', 'fillfactor');

sub mutate_opt
{
	my ($s, $pool) = @_;
	my $n = 1 + int(rand(3));
	for (1 .. $n)
	{
		my $len = length $s;
		my $pos = int(rand($len + 1));
		my $op = int(rand(6));
		if ($op == 0 && $len)
		{
			my $p = int(rand($len));
			substr($s, $p, 1) = chr(ord(substr($s, $p, 1)) ^ (1 << int(rand(7))));
		}
		elsif ($op == 1 && $len)
		{
			substr($s, $pos, 1 + int(rand(4))) = '' if $pos < $len;
		}
		elsif ($op == 2)
		{
			$s = substr($s, 0, $pos);
		}
		elsif ($op == 3)
		{
			my $o = pick(@$pool);
			$s = substr($s, 0, $pos) . substr($o, int(rand(length($o) + 1)));
		}
		elsif ($op == 4)
		{
			$s =~ s/\d+/pick(@opt_tokens)/e;
		}
		else
		{
			substr($s, $pos, 0) = pick(@opt_tokens);
		}
	}
	$s =~ tr/\0/ /;
	# one statement only: a ';' would only earn 42601 from EXECUTE
	return $s;
}

# COPY text format escaping
sub copy_escape
{
	my ($s) = @_;
	$s =~ s/\\/\\\\/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\r/\\r/g;
	$s =~ s/\t/\\t/g;
	return $s;
}

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->start;
# SQL_ASCII: every byte but NUL is a valid character, so the inputs are not
# filtered by encoding checks before they reach embed
$node->safe_psql('postgres',
	"CREATE DATABASE fuzz ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
my $db = 'fuzz';
$node->safe_psql($db, 'CREATE EXTENSION embed');
my $start_time = $node->safe_psql($db, 'SELECT pg_postmaster_start_time()');

$node->safe_psql($db, q{
CREATE TABLE fuzz_text (id int, typ text, s text);
CREATE TABLE fuzz_res (id int, kind text, typ text, state text, rt bool, msg text, sent bytea);
CREATE TABLE fuzz_bin (id int, typ text, payload bytea);
CREATE TABLE bin_vector (id int, v vector);
CREATE TABLE bin_halfvec (id int, v halfvec);
CREATE TABLE bin_sparsevec (id int, v sparsevec);
CREATE TABLE fuzz_opt (id int, am text, s text);
CREATE TABLE fuzz_mod (id int, typ text, s text);
CREATE TABLE opt_t (v vector(3));
INSERT INTO opt_t VALUES ('[1,2,3]'), ('[3,2,1]'), ('[0,1,0]'), ('[1,1,1]');

-- text input: the cast in one block (its error is the verdict), the
-- round trip in another (any error there is a round-trip failure)
CREATE FUNCTION run_text() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
	r record; st text; m text; rt bool; b bytea;
	v vector; h halfvec; s sparsevec;
BEGIN
	FOR r IN SELECT * FROM fuzz_text ORDER BY id LOOP
		st := 'ok'; m := NULL; rt := NULL; b := NULL;
		BEGIN
			IF r.typ = 'vector' THEN v := r.s::vector;
			ELSIF r.typ = 'halfvec' THEN h := r.s::halfvec;
			ELSE s := r.s::sparsevec;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			st := SQLSTATE; m := SQLERRM;
		END;
		IF st = 'ok' THEN
			BEGIN
				IF r.typ = 'vector' THEN
					b := vector_send(v);
					rt := vector_send(v::text::vector) = b AND v::text::vector::text = v::text;
				ELSIF r.typ = 'halfvec' THEN
					b := halfvec_send(h);
					rt := halfvec_send(h::text::halfvec) = b AND h::text::halfvec::text = h::text;
				ELSE
					b := sparsevec_send(s);
					rt := sparsevec_send(s::text::sparsevec) = b AND s::text::sparsevec::text = s::text;
				END IF;
			EXCEPTION WHEN OTHERS THEN
				rt := false; m := SQLSTATE || ': ' || SQLERRM;
			END;
		END IF;
		INSERT INTO fuzz_res VALUES (r.id, 'text', r.typ, st, rt, m, b);
	END LOOP;
END $f$;

-- binary input: one COPY per payload (a failing row aborts its COPY), from
-- files the test wrote; the round trip is checked afterwards with send()
CREATE FUNCTION run_binary(dir text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE r record; st text; m text;
BEGIN
	FOR r IN SELECT id, typ FROM fuzz_bin ORDER BY id LOOP
		st := 'ok'; m := NULL;
		BEGIN
			EXECUTE format('COPY bin_%s FROM %L (FORMAT binary)', r.typ, dir || '/' || r.id || '.bin');
		EXCEPTION WHEN OTHERS THEN
			st := SQLSTATE; m := SQLERRM;
		END;
		INSERT INTO fuzz_res VALUES (r.id, 'binary', r.typ, st, NULL, m, NULL);
	END LOOP;
	UPDATE fuzz_res f SET rt = (SELECT vector_send(b.v) = i.payload FROM bin_vector b, fuzz_bin i
		WHERE b.id = f.id AND i.id = f.id) WHERE kind = 'binary' AND typ = 'vector' AND state = 'ok';
	UPDATE fuzz_res f SET rt = (SELECT halfvec_send(b.v) = i.payload FROM bin_halfvec b, fuzz_bin i
		WHERE b.id = f.id AND i.id = f.id) WHERE kind = 'binary' AND typ = 'halfvec' AND state = 'ok';
	UPDATE fuzz_res f SET rt = (SELECT sparsevec_send(b.v) = i.payload FROM bin_sparsevec b, fuzz_bin i
		WHERE b.id = f.id AND i.id = f.id) WHERE kind = 'binary' AND typ = 'sparsevec' AND state = 'ok';
	-- and through text
	UPDATE fuzz_res f SET rt = rt AND (SELECT vector_send(b.v::text::vector) = vector_send(b.v)
		FROM bin_vector b WHERE b.id = f.id) WHERE kind = 'binary' AND typ = 'vector' AND state = 'ok';
	UPDATE fuzz_res f SET rt = rt AND (SELECT halfvec_send(b.v::text::halfvec) = halfvec_send(b.v)
		FROM bin_halfvec b WHERE b.id = f.id) WHERE kind = 'binary' AND typ = 'halfvec' AND state = 'ok';
	UPDATE fuzz_res f SET rt = rt AND (SELECT sparsevec_send(b.v::text::sparsevec) = sparsevec_send(b.v)
		FROM bin_sparsevec b WHERE b.id = f.id) WHERE kind = 'binary' AND typ = 'sparsevec' AND state = 'ok';
END $f$;

-- typmods: a NULL of type T(mod)
CREATE FUNCTION run_typmod() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE r record; st text; m text;
BEGIN
	FOR r IN SELECT * FROM fuzz_mod ORDER BY id LOOP
		st := 'ok'; m := NULL;
		BEGIN
			EXECUTE format('SELECT NULL::%s(%s)', r.typ, r.s);
		EXCEPTION WHEN OTHERS THEN
			st := SQLSTATE; m := SQLERRM;
		END;
		INSERT INTO fuzz_res VALUES (r.id, 'typmod', r.typ, st, NULL, m, NULL);
	END LOOP;
END $f$;

-- index options: CREATE INDEX in a subtransaction that is always rolled
-- back (the sentinel SQLSTATE EMB00 marks success); an accepted index's
-- reloptions must be accepted again and come back the same
CREATE FUNCTION run_options() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE r record; st text; m text; rt bool; ro text[]; ro2 text[]; w text;
BEGIN
	FOR r IN SELECT * FROM fuzz_opt ORDER BY id LOOP
		st := 'ok'; m := NULL; rt := NULL;
		BEGIN
			EXECUTE format('CREATE INDEX fuzz_idx ON opt_t USING %s (v vector_l2_ops) WITH (%s)', r.am, r.s);
			SELECT reloptions INTO ro FROM pg_class WHERE relname = 'fuzz_idx';
			SELECT string_agg(format('%I = %L', split_part(o, '=', 1), substr(o, strpos(o, '=') + 1)), ', ')
				INTO w FROM unnest(ro) o;
			rt := true;
			IF w IS NOT NULL THEN
				BEGIN
					EXECUTE format('CREATE INDEX fuzz_idx2 ON opt_t USING %s (v vector_l2_ops) WITH (%s)', r.am, w);
					SELECT reloptions INTO ro2 FROM pg_class WHERE relname = 'fuzz_idx2';
					rt := ro2 = ro;
				EXCEPTION WHEN OTHERS THEN
					rt := false; m := SQLSTATE || ': ' || SQLERRM;
				END;
			END IF;
			RAISE EXCEPTION 'rollback' USING ERRCODE = 'EMB00', DETAIL = coalesce(rt::text, '');
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE = 'EMB00' THEN
				DECLARE d text;
				BEGIN
					GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
					rt := nullif(d, '')::bool;
				END;
			ELSE
				st := SQLSTATE; m := SQLERRM; rt := NULL;
			END IF;
		END;
		INSERT INTO fuzz_res VALUES (r.id, 'options', r.am, st, rt, m, NULL);
	END LOOP;
END $f$;
});

# ---- generate ----
my $id = 0;
my (@text_rows, @bin_rows, @opt_rows, @mod_rows);
for my $type (@types)
{
	my @pool = read_corpus($type);
	push @text_rows, [ ++$id, $type, $_ ] for @pool;
	for (1 .. $count - @pool)
	{
		my $s = rand() < 0.02 ? big_text($type) : mutate_text(pick(@pool), \@pool);
		push @text_rows, [ ++$id, $type, $s ];
	}
}
for my $type (@types)
{
	my @pool = read_corpus("$type-bin", 1);
	push @bin_rows, [ ++$id, $type, $_ ] for @pool;
	for (1 .. $nbin - @pool)
	{
		my $r = rand();
		my $s = $r < 0.1 ? valid_bin($type) : mutate_bin($r < 0.4 ? valid_bin($type) : pick(@pool), \@pool);
		push @bin_rows, [ ++$id, $type, $s ];
	}
}
for my $am (@ams)
{
	my @pool = read_corpus("options-$am");
	push @opt_rows, [ ++$id, $am, $_ ] for @pool;
	push @opt_rows, [ ++$id, $am, mutate_opt(pick(@pool), \@pool) ] for 1 .. $nopt - @pool;
}
my @mods = ('3', '1', '0', '-1', '16000', '16001', '1000000000', '1000000001', '3,4',
	"'3'", '2147483648', '9999999999999999999', '3.5', 'x', '', '"3"', 'NULL');
for my $type (@types)
{
	push @mod_rows, [ ++$id, $type, $_ ] for @mods;
	push @mod_rows, [ ++$id, $type, mutate_opt(pick(@mods), \@mods) ] for 1 .. $nmod;
}

sub load_rows
{
	my ($table, $rows, $bytes) = @_;
	my $file = "$tmp/$table.copy";
	open(my $fh, '>:raw', $file) or die "$file: $!";
	for my $r (@$rows)
	{
		my $v = $bytes ? '\\\\x' . unpack('H*', $r->[2]) : copy_escape($r->[2]);
		print $fh "$r->[0]\t$r->[1]\t$v\n";
	}
	close $fh;
	$node->safe_psql($db, "COPY $table FROM '$file'");
}

load_rows('fuzz_text', \@text_rows);
load_rows('fuzz_bin', \@bin_rows, 1);
load_rows('fuzz_opt', \@opt_rows);
load_rows('fuzz_mod', \@mod_rows);

# one binary COPY file per payload: header, one row (id int4, the payload), trailer
my $bindir = "$tmp/bin";
mkdir $bindir or die "$bindir: $!";
for my $r (@bin_rows)
{
	open(my $fh, '>:raw', "$bindir/$r->[0].bin") or die $!;
	print $fh "PGCOPY\n\xff\r\n\0", pack('NN', 0, 0), pack('n', 2), pack('NN', 4, $r->[0]),
	  pack('N', length $r->[2]), $r->[2], pack('n', 0xffff);
	close $fh;
}

# ---- run ----
note(sprintf('generated and loaded in %.1f s', time - $^T));
my $t0 = time;
my ($ret, $out, $err) = $node->psql($db, 'SELECT run_text()');
is($ret, 0, 'text inputs: the session survives') or diag($err);
($ret, $out, $err) = $node->psql($db, "SELECT run_binary('$bindir')");
is($ret, 0, 'binary inputs: the session survives') or diag($err);
($ret, $out, $err) = $node->psql($db, 'SELECT run_typmod()');
is($ret, 0, 'typmods: the session survives') or diag($err);
($ret, $out, $err) = $node->psql($db, 'SELECT run_options()');
is($ret, 0, 'index options: the session survives') or diag($err);
note(sprintf('ran in %.1f s', time - $t0));

# ---- verdicts ----
is($node->safe_psql($db, 'SELECT pg_postmaster_start_time()'), $start_time, 'no server restart');
unlike(slurp_file($node->logfile), qr/terminated by signal|was terminated|PANIC/, 'no crash in the log');

for my $kind (sort keys %allowed)
{
	my $list = join(',', map { "'$_'" } @{ $allowed{$kind} });
	my $summary = $node->safe_psql($db,
		"SELECT string_agg(typ || ' ' || state || ' ' || n, ', ' ORDER BY typ, state) FROM "
		  . "(SELECT typ, state, count(*) n FROM fuzz_res WHERE kind = '$kind' GROUP BY 1, 2) s");
	note("$kind: $summary");
	my $bad = $node->safe_psql($db,
		"SELECT count(*) FROM fuzz_res WHERE kind = '$kind' AND state <> 'ok' AND state NOT IN ($list)");
	is($bad, 0, "$kind: every rejection has an allowed SQLSTATE (@{ $allowed{$kind} })")
	  or diag($node->safe_psql($db, qq{
		SELECT r.typ || ' ' || r.state || ' ' || r.msg || ' <- '
		  || coalesce(quote_literal(t.s), encode(b.payload, 'hex'), quote_literal(o.s), quote_literal(m.s))
		FROM fuzz_res r LEFT JOIN fuzz_text t USING (id) LEFT JOIN fuzz_bin b USING (id)
		  LEFT JOIN fuzz_opt o USING (id) LEFT JOIN fuzz_mod m USING (id)
		WHERE r.kind = '$kind' AND r.state <> 'ok' AND r.state NOT IN ($list) LIMIT 20}));
	my $expect = $node->safe_psql($db, "SELECT count(*) FROM fuzz_res WHERE kind = '$kind'");
	ok($expect > 0, "$kind: $expect inputs ran");
}

for my $kind (qw(text binary options))
{
	my $ok = $node->safe_psql($db, "SELECT count(*) FROM fuzz_res WHERE kind = '$kind' AND state = 'ok'");
	my $bad = $node->safe_psql($db,
		"SELECT count(*) FROM fuzz_res WHERE kind = '$kind' AND state = 'ok' AND rt IS DISTINCT FROM true");
	ok($ok > 0, "$kind: some inputs accepted ($ok)");
	is($bad, 0, "$kind: every accepted input round-trips")
	  or diag($node->safe_psql($db, qq{
		SELECT r.typ || ' ' || coalesce(r.msg, '') || ' <- '
		  || coalesce(quote_literal(t.s), encode(b.payload, 'hex'), quote_literal(o.s))
		FROM fuzz_res r LEFT JOIN fuzz_text t USING (id) LEFT JOIN fuzz_bin b USING (id)
		  LEFT JOIN fuzz_opt o USING (id)
		WHERE r.kind = '$kind' AND r.state = 'ok' AND r.rt IS DISTINCT FROM true LIMIT 20}));
}

$node->stop;
done_testing();
