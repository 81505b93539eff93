# bench/plot.py turns `make bench` results into SVG plots that people look
# at in a browser. Draw the committed sample result file
# (test/data/bench-sample-sap-minilm-384.jsonl, a real small run), check the
# SVG is well-formed, reproducible and shows every engine + index of the
# run, then have headless Chromium render each file: a screenshot that is
# not blank, and a DOM without an XML parser error. Chromium is optional
# (make test installs Debian's when it can): without it that part skips.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;

my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
# Debian's interpreter: matplotlib is python3-matplotlib (a pyenv or venv
# python3 earlier on PATH would not see it).
my $python = $ENV{EMBED_PLOT_PYTHON} // '/usr/bin/python3';
my $plot = "$root/bench/plot.py";
my $sample = "$root/test/data/bench-sample-sap-minilm-384.jsonl";
my $tmp = PostgreSQL::Test::Utils::tempdir();

sub run_cmd
{
	my @cmd = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(180));
	};
	$err .= $@ if $@;
	return ($ok ? 1 : 0, $out, $err);
}

ok(system($python, '-c', 'import matplotlib') == 0,
	"$python imports matplotlib (Debian python3-matplotlib; make test installs it)")
  or BAIL_OUT('no matplotlib for bench/plot.py');

# What the sample says: the (engine, index) pairs, and those with a build.
my (@pairs, @built, %seen, %seen_built);
open(my $fh, '<', $sample) or die "$sample: $!";
while (my $line = <$fh>)
{
	my $o = decode_json($line);
	next unless ($o->{kind} // '') eq 'search';
	my $label = "$o->{engine}  $o->{index}";
	push @pairs, $label unless $seen{$label}++;
	push @built, $label if defined $o->{build_s} && !$seen_built{$label}++;
}
close $fh;
cmp_ok(scalar @pairs, '>=', 5, 'sample has several engine + index series');

# Draw into a folder; return the SVG paths.
sub draw
{
	my ($dir, @args) = @_;
	my ($ok, $out, $err) = run_cmd($python, $plot, '--out', $dir, @args);
	ok($ok, "plot.py draws " . ($args[-1] =~ s{.*/}{}r)) or diag("stdout:\n$out\nstderr:\n$err");
	return map { "$dir/sap-minilm-384-$_.svg" } qw(recall-qps build);
}

my @svgs = draw("$tmp/a", $sample);
ok(-s $_, "wrote $_") for @svgs;

# Reproducible: no date, fixed ids, so a redraw is byte-identical.
my @again = draw("$tmp/b", $sample);
for my $i (0 .. 1)
{
	ok(slurp_file($svgs[$i]) eq slurp_file($again[$i]),
		"redrawing gives the same bytes: $again[$i]");
}

# Well-formed XML whose root is an SVG element with a size; the text it
# carries, one string per line (fonttype none keeps text as <text>).
my $checker = <<'PY';
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag
for a in ('width', 'height', 'viewBox'):
    assert root.get(a), 'no ' + a
ns = '{http://www.w3.org/2000/svg}'
paths = sum(1 for _ in root.iter(ns + 'path'))
print('paths', paths)
for t in root.iter(ns + 'text'):
    print('text', ''.join(t.itertext()))
PY

sub svg_texts
{
	my ($svg) = @_;
	my ($ok, $out, $err) = run_cmd($python, '-c', $checker, $svg);
	ok($ok, "$svg is well-formed XML with an <svg> root, width, height and viewBox")
	  or diag($err);
	my ($paths) = $out =~ /^paths (\d+)$/m;
	my %texts = map { $_ => 1 } ($out =~ /^text (.*)$/mg);
	return ($paths // 0, \%texts);
}

{
	my ($paths, $texts) = svg_texts($svgs[0]);
	cmp_ok($paths, '>=', 20, 'recall plot has drawn paths');
	ok($texts->{$_}, "recall plot legend: $_") for @pairs;
	ok($texts->{'recall@10'}, 'x axis: recall@10');
	ok((grep { /queries\/s .*log scale/ } keys %$texts), 'y axis: queries/s, log scale');
	ok((grep { /^sap-minilm-384: recall against throughput$/ } keys %$texts), 'title names the data set');
	ok((grep { /n=678 dim=384 cosine .*AMD EPYC, 2 cores .*2026-12-05 07:00 UTC .*git 70d6e039e1/ } keys %$texts),
		'subtitle: rows, dims, metric, machine, date, commit');

	($paths, $texts) = svg_texts($svgs[1]);
	ok($texts->{$_}, "build plot bar: $_") for @built;
	ok($texts->{'build time, s'} && $texts->{'index size, MB'}, 'build plot: time and size axes');
}

# Any engine name gets its own series: the embed rows relabelled pgvector.
{
	my $mixed = "$tmp/mixed.jsonl";
	my $text = slurp_file($sample);
	my @extra = map { s/"engine": "embed"/"engine": "pgvector"/r }
	  grep { /"engine": "embed"/ } split /\n/, $text;
	ok(@extra > 0, 'sample rows relabelled as engine pgvector');
	open(my $o, '>', $mixed) or die;
	print $o $text, join("\n", @extra), "\n";
	close $o;
	my @m = draw("$tmp/c", $mixed);
	my (undef, $texts) = svg_texts($m[0]);
	ok($texts->{'pgvector  hnsw(m=16,ef_construction=64)'} && $texts->{'embed  hnsw(m=16,ef_construction=64)'},
		'a pgvector engine gets its own line beside embed');
}

# Bad input is an error naming the line, not a half-drawn plot.
{
	my $bad = "$tmp/bad.jsonl";
	open(my $o, '>', $bad) or die;
	print $o slurp_file($sample), "{not json\n";
	close $o;
	my ($ok, $out, $err) = run_cmd($python, $plot, '--out', "$tmp/d", $bad);
	ok(!$ok && $err =~ /bad\.jsonl:19: not JSON/, 'a broken line is an error naming file and line')
	  or diag($err);
}

# Headless Chromium renders each SVG.
my ($chromium) = grep {
	my $n = $_;
	grep { -x "$_/$n" } split /:/, $ENV{PATH}
} qw(chromium chromium-browser);

SKIP:
{
	skip 'chromium is not installed (make test installs Debian\'s chromium when apt can; '
	  . 'it could not here), so the SVGs are not rendered', 9
	  unless $chromium;

	my @flags = (
		qw(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		  --disable-background-networking --disable-component-update --disable-sync),
		'--window-size=1000,800');
	my $n = 0;
	# Chromium wants a writable HOME and a profile of its own per run.
	local $ENV{HOME} = $tmp;

	# A truncated SVG must be reported by the DOM check, or the check proves nothing.
	my $broken = "$tmp/broken.svg";
	open(my $o, '>', $broken) or die;
	print $o substr(slurp_file($svgs[0]), 0, 2000);
	close $o;

	for my $svg (@svgs, $broken)
	{
		$n++;
		my ($ok, $out, $err) = run_cmd($chromium, @flags, "--user-data-dir=$tmp/profile-$n",
			'--dump-dom', "file://$svg");
		my $parse_error = $out =~ /parsererror|This page contains the following errors/;
		if ($svg eq $broken)
		{
			ok($parse_error, 'chromium reports the XML error of a truncated SVG (the check can fail)')
			  or diag($out);
			next;
		}
		ok($ok && $out =~ /<svg/ && !$parse_error, "chromium parses $svg without error")
		  or diag("stdout:\n" . substr($out, 0, 2000) . "\nstderr:\n$err");

		my $png = "$tmp/shot-$n.png";
		($ok, $out, $err) = run_cmd($chromium, @flags, "--user-data-dir=$tmp/profile-$n-shot",
			"--screenshot=$png", "file://$svg");
		ok($ok && -s $png, "chromium renders $svg to a screenshot") or diag($err);

		# Not blank: a share of non-white pixels and many colours.
		($ok, $out, $err) = run_cmd($python, '-c', <<'PY', $png);
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert('RGB')
px = list(im.getdata())
ink = sum(1 for p in px if p != (255, 255, 255))
print(im.size[0], im.size[1], ink / len(px), len(set(px)))
PY
		my ($w, $h, $ink, $colours) = split ' ', $out // '';
		ok($ok && $w == 1000 && $h == 800, 'screenshot is 1000x800') or diag("$out $err");
		ok(($ink // 0) > 0.01 && ($colours // 0) > 8,
			"screenshot is not blank (ink " . ($ink // '?') . ", colours " . ($colours // '?') . ")");
	}
}

done_testing();
