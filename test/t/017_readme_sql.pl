# The README runs as written: every SQL example in it that shows a result is
# run against the extension and must give exactly that result.
#
# The convention (README.md, "Extending embed"):
#   * a ```sql block runs statement by statement, each block in a fresh
#     database with the extension; a statement whose last line ends in a
#     comment `-- → RESULT` must print RESULT (psql's unaligned output:
#     columns joined by ", ", rows by "; "), `-- → ERROR 22000: message` must
#     fail with that SQLSTATE and message, and every other statement of the
#     block must succeed;
#   * a block that cannot run as it stands (placeholders like '[...]',
#     tables the reader is assumed to have) is marked by the line
#     `<!-- illustrative -->` right before its fence and is not run; an
#     unmarked ```sql block without any `-- →` claim is an error here, so
#     every new block picks one of the two;
#   * Markdown tables with an `example` column followed by a `result`
#     column, or one `example → result` column (`expr` → `value`), are
#     checked as `SELECT expr` giving `value`.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
my $readme = "$root/README.md";
my @lines = split /\n/, slurp_file($readme);

# ---------------------------------------------------------------------------
# Extract the checks.

# Code and comment of one SQL line: the comment starts at the first `--`
# outside a single-quoted string.
sub split_comment
{
	my ($line) = @_;
	my $inq = 0;
	for my $i (0 .. length($line) - 2)
	{
		my $c = substr($line, $i, 1);
		if ($c eq "'") { $inq = !$inq; next; }
		return (substr($line, 0, $i), substr($line, $i + 2))
		  if !$inq && substr($line, $i, 2) eq '--';
	}
	return ($line, undef);
}

my @blocks;    # { line => N, stmts => [ { sql, claim, line } ] }
my @bad;       # problems with the README's use of the convention
{
	my $i = 0;
	while ($i < @lines)
	{
		if ($lines[$i] !~ /^```sql\s*$/)
		{
			$i++;
			next;
		}
		my $start = $i + 1;    # 1-based line of the fence
		my $j = $i - 1;
		$j-- while $j >= 0 && $lines[$j] =~ /^\s*$/;
		my $illustrative = $j >= 0 && $lines[$j] =~ /^<!--\s*illustrative\s*-->\s*$/;
		my (@stmts, $sql, $first);
		$i++;
		for (; $i < @lines && $lines[$i] !~ /^```\s*$/; $i++)
		{
			my ($code, $comment) = split_comment($lines[$i]);
			my $claim;
			$claim = $1 if defined $comment && $comment =~ /^\s*→\s*(.*?)\s*$/;
			if ($code =~ /^\s*$/)
			{
				push @bad, "line " . ($i + 1) . ": a `-- →` claim with no statement before it on its line"
				  if defined $claim;
				next;
			}
			$code =~ s/\s+$//;
			$first //= $i + 1;
			$sql = defined $sql ? "$sql\n$code" : $code;
			if ($code =~ /;\s*$/)
			{
				push @stmts, { sql => $sql, claim => $claim, line => $i + 1 };
				undef $sql;
				undef $first;
			}
			elsif (defined $claim)
			{
				push @bad, "line " . ($i + 1) . ": a `-- →` claim on a line that does not end its statement";
			}
		}
		push @bad, "block at line $start: statement from line $first has no terminating ;"
		  if defined $sql;
		$i++;
		next if $illustrative;
		if (!grep { defined $_->{claim} } @stmts)
		{
			push @bad, "```sql block at line $start shows no result: add `-- → result` claims "
			  . "or mark it <!-- illustrative -->";
			next;
		}
		push @blocks, { line => $start, stmts => \@stmts };
	}
}

# Table cells, split on unescaped pipes.
sub cells
{
	my ($row) = @_;
	$row =~ s/^\s*\|//;
	$row =~ s/\|\s*$//;
	return map { my $c = $_; $c =~ s/\\\|/|/g; $c =~ s/^\s+|\s+$//g; $c } split /(?<!\\)\|/, $row, -1;
}

my @table_checks;    # { line, sql, claim }
for (my $i = 0; $i + 1 < @lines; $i++)
{
	next unless $lines[$i] =~ /^\|.*\|\s*$/ && $lines[$i + 1] =~ /^\|[-|: ]+\|\s*$/;
	my @head = cells($lines[$i]);
	my ($ex, $res, $both);
	for my $c (0 .. $#head)
	{
		$ex = $c if $head[$c] eq 'example' && $c < $#head && $head[$c + 1] eq 'result';
		$both = $c if $head[$c] eq 'example → result';
	}
	$res = $ex + 1 if defined $ex;
	next unless defined $ex || defined $both;
	for (my $r = $i + 2; $r < @lines && $lines[$r] =~ /^\|/; $r++)
	{
		my @row = cells($lines[$r]);
		my ($expr, $value);
		if (defined $ex)
		{
			next if $row[$ex] eq '' && $row[$res] eq '';
			($expr) = $row[$ex] =~ /^`(.+)`$/;
			($value) = $row[$res] =~ /^`(.*)`$/;
		}
		else
		{
			next if $row[$both] eq '';
			($expr, $value) = $row[$both] =~ /^`(.+)`\s*→\s*`(.*)`$/;
		}
		if (!defined $expr || !defined $value)
		{
			push @bad, "line " . ($r + 1) . ": example/result cells are not `expr` and `value`";
			next;
		}
		push @table_checks, { line => $r + 1, sql => "SELECT $expr;", claim => $value };
	}
}

is(join("\n", @bad), '', 'README follows the example convention');
my $nclaims = grep { defined $_->{claim} } map { @{ $_->{stmts} } } @blocks;
cmp_ok($nclaims, '>=', 6, "README's ```sql blocks make $nclaims claims");
cmp_ok(scalar @table_checks, '>=', 15, 'README tables make ' . scalar(@table_checks) . ' claims');

# ---------------------------------------------------------------------------
# Run them.

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
$node->start;

# Run statements in one session of a fresh database; return, per statement,
# [sqlstate, output rows joined by "; ", error message].
my $dbno = 0;
sub run_statements
{
	my (@stmts) = @_;
	my $db = 'readme_' . ++$dbno;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION embed');
	my $script = "\\pset fieldsep ', '\n\\pset null 'NULL'\n";
	for my $k (0 .. $#stmts)
	{
		$script .= "\\echo '\@\@S $k'\n$stmts[$k]{sql}\n"
		  . "\\echo '\@\@E $k' :SQLSTATE\n\\echo '\@\@M' :LAST_ERROR_MESSAGE\n";
	}
	my ($out, $err) = ('', '');
	$node->psql($db, $script, stdout => \$out, stderr => \$err, on_error_stop => 0);
	my @res;
	while ($out =~ /^\@\@S (\d+)\n(.*?)^\@\@E \1 (\S+)\n\@\@M ?(.*?)$/msg)
	{
		my ($k, $body, $state, $msg) = ($1, $2, $3, $4);
		chomp $body;
		$res[$k] = [ $state, join('; ', split /\n/, $body), $msg ];
	}
	return @res;
}

sub judge
{
	my ($st, $r) = @_;
	my $where = "README line $st->{line}: " . ($st->{sql} =~ s/\s+/ /gr);
	if (!defined $r)
	{
		fail("$where: did not run");
		return;
	}
	my ($state, $out, $msg) = @$r;
	if (!defined $st->{claim})
	{
		is($state, '00000', "$where: runs") or diag("ERROR $state: $msg");
	}
	elsif ($st->{claim} =~ /^ERROR (\w{5}): (.*)$/)
	{
		is("ERROR $state: " . ($state eq '00000' ? $out : $msg), $st->{claim}, $where);
	}
	else
	{
		is($state eq '00000' ? $out : "ERROR $state: $msg", $st->{claim}, $where);
	}
}

for my $b (@blocks)
{
	my @res = run_statements(@{ $b->{stmts} });
	judge($b->{stmts}[$_], $res[$_]) for 0 .. $#{ $b->{stmts} };
}
{
	my @res = run_statements(@table_checks);
	judge($table_checks[$_], $res[$_]) for 0 .. $#table_checks;
}

$node->stop;
done_testing();
