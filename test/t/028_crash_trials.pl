# Random crash trials: writers commit single rows into tables indexed by
# hnsw, ivfflat and ivfrabitq while other clients churn and VACUUM them; at
# a random moment a backend or the postmaster dies by SIGKILL (or the server
# stops in immediate mode), sometimes in the middle of a CREATE INDEX, a
# REINDEX or a VACUUM.  After recovery every commit a client saw
# acknowledged must be there, nothing else may be, and every index must be
# whole: exactly the live rows (embed_index_check, heapallindexed), found by
# index scans.
#
# How commits are known across the crash.  Each writer is a psql running a
# script of single-statement transactions (autocommit), every statement
# followed by `\echo ack N`.  psql runs the echo only after the server
# answered the statement with success, which it does only after the commit
# record is written (synchronous_commit = on; fsync = off only skips the
# flush to disk, and a killed process loses nothing the kernel already
# holds).  psql itself is never killed: it loses its connection, stops at the
# error (ON_ERROR_STOP) and exits normally, so its stdout reaches us in full.
# The acknowledged statements of a writer are thus exactly 1..N, and only
# statement N+1 can be in doubt.  The writer's rows after recovery must be
# the state after statement N or after N+1; the database cannot be the
# record of what committed, since it is what the crash puts to the test.
#
# EMBED_CRASH_TRIALS (default 3) sets the number of trials, EMBED_CRASH_SEED
# the seed of the draws (printed, to replay a failure's choices; the timing
# of a run is not replayed exactly).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);
use EmbedTest;

my $trials = ($ENV{EMBED_CRASH_TRIALS} // '') ne '' ? $ENV{EMBED_CRASH_TRIALS} : 3;
my $seed = ($ENV{EMBED_CRASH_SEED} // '') ne '' ? $ENV{EMBED_CRASH_SEED} : (int(time * 1000) ^ $$) % 1_000_000_000;
die "EMBED_CRASH_TRIALS and EMBED_CRASH_SEED must be whole numbers" unless "$trials$seed" =~ /^\d+$/;
diag "crash trials: seed $seed (EMBED_CRASH_SEED=$seed replays the draws), $trials trials";
srand($seed);

# Only our own crashes.  wal_consistency_checking: replay compares every
# generic WAL record's result with the page the primary wrote.
my $node = start_node('crash_trials', join("\n",
	'synchronous_commit = on', 'autovacuum = off', 'restart_after_crash = on',
	"checkpoint_timeout = '1h'", "max_wal_size = '4GB'", 'max_connections = 30',
	"wal_consistency_checking = 'generic'"));
my $db = 'postgres';
load_words($node, $db, 'words');
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my @ams = qw(hnsw ivfflat ivfrabitq);
my %am = map { $_ => index_am($_, lists => 20) } @ams;
my $base = 1500;     # rows 1..1500 per table, churned by pgbench
my $writers = 2;     # tracked writers
my $ops = 3000;      # statements in a writer's script (more than run before the kill)

sub pick { my @a = @_; return $a[ int(rand(@a)) ] }

# One statement over the three tables of trial $n: a CTE, so one commit.
# $f->($table) gives each table's statement.
sub all3
{
	my ($n, $f) = @_;
	my @t = map { "c${n}_$_" } @ams;
	return 'WITH ' . join(', ', map { "s$_ AS (" . $f->($t[$_]) . ')' } 0 .. $#t - 1) . ' ' . $f->($t[-1]) . ";\n";
}

sub write_file
{
	my ($name, $text) = @_;
	open my $fh, '>', "$tmp/$name" or die "$tmp/$name: $!";
	print $fh $text;
	close $fh;
	return "$tmp/$name";
}

# The state of a writer after each statement: a list of snapshots would be
# large, so keep the statements and replay them up to a point.
sub state_after
{
	my ($list, $k) = @_;
	my %s;
	for my $i (0 .. $k - 1)
	{
		my ($op, $id, $wid) = @{ $list->[$i] };
		if ($op eq 'D') { delete $s{$id} }
		else { $s{$id} = $wid }
	}
	return \%s;
}

sub state_str
{
	my ($s) = @_;
	return join ',', map { "$_:$s->{$_}" } sort { $a <=> $b } keys %$s;
}

# A process's state letter (Z: a zombie), '' once it is gone.
sub proc_state
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return '';
	my $line = <$fh> // '';
	return $line =~ /^\d+ \(.*\) (\S) /s ? $1 : '';
}

# Postmaster and every process it forked, killed by SIGKILL.  Stopped first,
# so that it forks nothing while we list its children.
sub kill_postmaster
{
	my $pm = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
	kill 'STOP', $pm or die "no postmaster $pm";
	my @children;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh> // next;
		push @children, $1 if $line =~ /^(\d+) \(.*\) \S (\d+) /s && $2 == $pm;
	}
	$node->kill9;
	kill 'KILL', @children;
	# Wait until they are gone: a zombie child no longer holds shared
	# memory, but the old postmaster must be reaped too (a new one refuses
	# to start while kill(pid, 0) still finds the pid in postmaster.pid).
	for my $i (1 .. 100 * $timeout)
	{
		my $alive = grep { proc_state($_) =~ /^[^Z]/ } @children;
		return scalar @children unless $alive || proc_state($pm) ne '';
		sleep 0.01;
	}
	die 'children of the killed postmaster did not exit';
}

my %fig = (rows => 0, lost => 0, phantom => 0, checks => 0, during_index => 0, during_vacuum => 0);
my %by_target;

for my $n (1 .. $trials)
{
	my $target = pick(qw(backend backend postmaster immediate));
	my $event = pick(qw(writes index vacuum));
	my $event_am = pick(@ams);
	my $delay = sprintf('%.2f', rand(1.2));
	$by_target{$target}++;
	note "##### trial $n: kill $target, during $event" . ($event eq 'writes' ? '' : " ($event_am)")
	  . ", ${delay}s in";

	for my $name (@ams)
	{
		my $t = "c${n}_$name";
		$node->safe_psql($db, qq{
			CREATE TABLE $t (id int PRIMARY KEY, wid int NOT NULL, v vector(100) NOT NULL);
			INSERT INTO $t SELECT id, id, v FROM words WHERE id <= $base;
			CREATE INDEX ${t}_cos ON $t USING $name (v vector_cosine_ops) $am{$name}{with};
			ANALYZE $t;
		});
	}

	# The tracked writers: insert new ids of their own range, update and
	# delete their own rows.
	my (@list, @script);
	for my $w (0 .. $writers - 1)
	{
		my (@l, @live);
		my $text = '';
		my $next = 100_000 * ($w + 1);
		for my $k (1 .. $ops)
		{
			my $r = rand;
			my $wid = 1 + int(rand(9000));
			my ($op, $id);
			if (@live > 5 && $r < 0.15)
			{
				my $i = int(rand(@live));
				($op, $id) = ('D', splice(@live, $i, 1));
				$text .= all3($n, sub { "DELETE FROM $_[0] WHERE id = $id" });
			}
			elsif (@live > 5 && $r < 0.30)
			{
				($op, $id) = ('U', pick(@live));
				$text .= all3($n,
					sub { "UPDATE $_[0] SET wid = w.id, v = w.v FROM words w WHERE w.id = $wid AND $_[0].id = $id" });
			}
			else
			{
				($op, $id) = ('I', $next++);
				push @live, $id;
				$text .= all3($n, sub { "INSERT INTO $_[0] SELECT $id, id, v FROM words WHERE id = $wid" });
			}
			$text .= "\\echo ack $k\n";
			push @l, [ $op, $id, $wid ];
		}
		push @list, \@l;
		push @script, write_file("w${n}_$w.sql", $text);
	}

	# Untracked churn on the base rows (one client: the three tables stay
	# alike) and a VACUUM loop.
	my $churn = write_file("churn$n.sql",
		"\\set r random(1, $base)\n\\set w random(1, 9000)\n\\set op random(1, 3)\n"
		  . "\\if :op = 1\n" . all3($n, sub { "DELETE FROM $_[0] WHERE id = :r" })
		  . "\\elif :op = 2\n" . all3($n, sub { "INSERT INTO $_[0] SELECT :r, id, v FROM words WHERE id = :w ON CONFLICT DO NOTHING" })
		  . "\\else\n" . all3($n, sub { "UPDATE $_[0] SET wid = w.id, v = w.v FROM words w WHERE w.id = :w AND $_[0].id = :r" })
		  . "\\endif\n");
	my $vac = write_file("vac$n.sql", "\\sleep 20 ms\nVACUUM " . join(', ', map { "c${n}_$_" } @ams) . ";\n");

	my $offset = -s $node->logfile;
	my @conn = ('-h', $node->host, '-p', $node->port, $db);
	my (%out, %err, %h);
	my $start = sub {
		my ($name, $app, @cmd) = @_;
		local $ENV{PGAPPNAME} = $app;
		($out{$name}, $err{$name}) = ('', '');
		$h{$name} = IPC::Run::start(\@cmd, '>' => \$out{$name}, '2>' => \$err{$name},
			IPC::Run::timeout(2 * $timeout));
	};
	for my $w (0 .. $writers - 1)
	{
		$start->("writer$w", 'writer', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $script[$w], @conn);
	}
	$start->('churn', 'churn', 'pgbench', '-n', '-c', '1', '-T', '120', '-f', $churn, @conn);
	$start->('vacuum', 'vacloop', 'pgbench', '-n', '-c', '1', '-T', '120', '-f', $vac, @conn);
	$node->poll_query_until($db, "SELECT count(*) >= 20 FROM c${n}_hnsw WHERE id > $base")
	  or die 'the writers did not get going';

	# The event to interrupt.  Builds block the writers' inserts while they
	# run; the builder runs one CREATE INDEX, then REINDEXes the index the
	# writers' rows must be found through, again and again (so that a build
	# is likely to be under way at the kill).
	my $event_pid;
	my $busy;
	if ($event eq 'index')
	{
		my $t = "c${n}_$event_am";
		write_file("index$n.sql",
			"CREATE INDEX ${t}_l2 ON $t USING $event_am (v vector_l2_ops) $am{$event_am}{with};\n\\echo ack index\n"
			  . "REINDEX INDEX ${t}_cos;\nSELECT pg_sleep(0.05);\n" x 40);
		$start->('index', 'builder', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$tmp/index$n.sql", @conn);
		$busy = "application_name = 'builder' AND state = 'active' AND query ~ '^(CREATE|REINDEX)'";
	}
	elsif ($event eq 'vacuum')
	{
		$busy = "application_name = 'vacloop' AND state = 'active' AND query LIKE 'VACUUM%'";
	}
	sleep $delay;
	if ($busy)
	{
		# the first moment after the delay that the event is under way (a
		# bounded wait: a trial whose event is over crashes all the same)
		for (1 .. 200)
		{
			$event_pid = $node->safe_psql($db, "SELECT pid FROM pg_stat_activity WHERE $busy LIMIT 1");
			last if $event_pid;
		}
	}
	if ($event_pid)
	{
		$fig{ $event eq 'index' ? 'during_index' : 'during_vacuum' }++;
	}
	elsif ($event ne 'writes')
	{
		note "the $event had finished (or not begun) when the kill came";
	}

	if ($target eq 'backend')
	{
		# the event's backend, else (or if it has just exited) a writer's,
		# the churn's or the VACUUM loop's: those stay connected
		my $pid = $event_pid;
		my $killed = $pid && kill('KILL', $pid);
		for (1 .. 10)
		{
			last if $killed;
			$pid = pick(split /\n/, $node->safe_psql($db,
				"SELECT pid FROM pg_stat_activity WHERE application_name IN ('writer', 'churn', 'vacloop') ORDER BY pid"));
			$killed = $pid && kill('KILL', $pid);
		}
		$fig{ $event eq 'index' ? 'during_index' : 'during_vacuum' }-- if $event_pid && $pid != $event_pid;
		note "kill -9 backend $pid";
		ok($killed, "trial $n: killed backend $pid");
		# the postmaster notices, stops every process and runs recovery
		$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
		$node->poll_query_until($db, 'SELECT NOT pg_is_in_recovery()') or die 'no recovery after the backend crash';
	}
	elsif ($target eq 'postmaster')
	{
		my $k = kill_postmaster();
		note "kill -9 postmaster and its $k children";
		$node->start;
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
	for my $name (sort keys %h)
	{
		eval { $h{$name}->finish; 1 } or die "$name did not exit: $@";
	}
	ok($node->log_contains(qr/database system was not properly shut down; automatic recovery in progress/, $offset),
		"trial $n: crash recovery ran");
	my $client_err = join '', map { $err{$_} } sort keys %err;
	unlike($client_err, qr/\bERROR:/, "trial $n: no client got an ERROR (only lost connections)");

	# The rows: alike in the three tables, and the writers' as acknowledged.
	my %rows = map {
		$_ => $node->safe_psql($db, "SELECT string_agg(id || ':' || wid, ',' ORDER BY id) FROM c${n}_$_")
	} @ams;
	is($rows{$_}, $rows{hnsw}, "trial $n: c${n}_$_ holds the rows c${n}_hnsw holds") for @ams[ 1 .. $#ams ];
	my %have = map { split /:/ } split /,/, $rows{hnsw};
	for my $w (0 .. $writers - 1)
	{
		my @acks = $out{"writer$w"} =~ /^ack (\d+)$/mg;
		my $acked = @acks ? $acks[-1] : 0;
		is(scalar @acks, $acked, "trial $n writer $w: acknowledgements 1..$acked in order");
		my ($lo, $hi) = (100_000 * ($w + 1), 100_000 * ($w + 2));
		my %mine = map { $_ => $have{$_} } grep { $_ >= $lo && $_ < $hi } keys %have;
		my $after = state_after($list[$w], $acked);
		my $doubt = $acked < $ops ? state_after($list[$w], $acked + 1) : $after;
		my $got = state_str(\%mine);
		my $ok = $got eq state_str($after) || $got eq state_str($doubt);
		ok($ok, "trial $n writer $w: the rows are those of its $acked acknowledged statements"
			  . ($acked < $ops ? " (statement " . ($acked + 1) . ", in doubt, $list[$w][$acked][0] $list[$w][$acked][1])" : ''))
		  or diag("have $got\nafter $acked: " . state_str($after) . "\nafter " . ($acked + 1) . ': ' . state_str($doubt));
		my $in_doubt = $acked < $ops ? $list[$w][$acked][1] : -1;
		$fig{lost} += grep { !exists $mine{$_} && $_ != $in_doubt } keys %$after;
		$fig{phantom} += grep { !exists $after->{$_} && $_ != $in_doubt } keys %mine;
		$fig{rows} += keys %$after;
		note "writer $w: $acked statements acknowledged, " . scalar(keys %$after) . ' of its rows live';
	}
	if ($event eq 'index' && $out{index} =~ /^ack index$/m)
	{
		is($node->safe_psql($db, "SELECT count(*) FROM pg_index WHERE indexrelid = 'c${n}_${event_am}_l2'::regclass AND indisvalid"),
			'1', "trial $n: the acknowledged CREATE INDEX survived");
	}

	# Every index on the trial's tables (the interrupted build's, if it
	# committed): whole, holding exactly the live rows.
	my @idx = split /\n/, $node->safe_psql($db, qq{
		SELECT c.relname || ' ' || t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		  JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am a ON a.oid = c.relam
		WHERE a.amname IN ('hnsw', 'ivfflat', 'ivfrabitq') AND t.relname LIKE 'c${n}\\_%' ORDER BY 1});
	for (@idx)
	{
		my ($i, $t) = split / /;
		my ($rowsn, $tids, $live) = split /\|/, $node->safe_psql($db,
			"SELECT heap_rows, heap_tids, (SELECT count(*) FROM $t) FROM embed_index_check('$i')");
		is($rowsn, $live, "trial $n: embed_index_check finds $i clean, with all $live live rows");
		cmp_ok($tids, '>=', $live, "trial $n: $i holds a heap TID per live row (and maybe dead ones)");
		$fig{checks}++;
	}
	# The writers' rows through index scans (embed_index_check is the exact
	# test; this one the scans, which are approximate)
	for my $name (@ams)
	{
		my ($found, $checked) = self_found($node, $db, "c${n}_$name", '<=>', index => "c${n}_${name}_cos",
			set => $am{$name}{wide}, where => "id > $base");
		cmp_ok($found, '>=', 0.95 * $checked, "trial $n: $name scans find the writers' rows ($found of $checked)");
	}
	$node->safe_psql($db, join '', map { "DROP TABLE c${n}_$_;" } @ams);
}

ok(!$node->log_contains(qr/PANIC|inconsistent page found|terminated by signal (6|11)\b/),
	'no PANIC, failed consistency check or backend crash of our own in the server log');
is($fig{lost}, 0, 'no acknowledged row lost');
is($fig{phantom}, 0, 'no row that was never acknowledged nor in doubt');
diag sprintf('crash trials: %d trials (%s), %d during CREATE INDEX or REINDEX, %d during VACUUM; '
	  . '%d acknowledged rows checked (x3 tables), %d index checks, rows lost: %d, seed %d',
	$trials, join(', ', map { "$by_target{$_} $_" } sort keys %by_target),
	$fig{during_index}, $fig{during_vacuum}, $fig{rows}, $fig{checks}, $fig{lost}, $seed);
$node->stop;
done_testing();
