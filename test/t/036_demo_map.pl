# The demo's map of the embedding space (test/demo/map.sql, section 8 of
# `make demo`): SQL alone places the word vectors with pca() and
# vector_project(), colours them with kmeans() and vector_nearest(), and
# writes the SVG text with string_agg().  Run that script on a throwaway
# cluster with the demo's word table and check what it wrote: a non-empty,
# well-formed SVG; the same bytes on a second run; one dot per mapped word,
# all inside the plot; one colour per cluster with as many dots as the
# cluster has words; a ringed dot and a label for every labelled word; a
# legend line per cluster.  The copy committed for the README
# (test/demo/embedding-map.svg) must pass the same checks.  Then headless
# Chromium renders the map: no XML error in its DOM, a screenshot that is
# not blank and shows every cluster's colour.  Chromium is optional (make
# test installs Debian's when it can): without it that part skips.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use EmbedTest;

my $root = $ENV{EMBED_ROOT} or die "EMBED_ROOT is not set";
my $python = $ENV{EMBED_PLOT_PYTHON} // '/usr/bin/python3';
my $map_sql = "$root/test/demo/map.sql";
my $committed = "$root/test/demo/embedding-map.svg";
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $k = 10;    # map.sql's default map_k
my @palette = split ' ', '#4e79a7 #f28e2b #e15759 #76b7b2 #59a14f #edc948 #b07aa1 #ff9da7 #9c755f #bab0ac';

sub run_cmd
{
	my @cmd = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(300));
	};
	$err .= $@ if $@;
	return ($ok ? 1 : 0, $out, $err);
}

# The demo's words table, loaded as test/demo/demo.sql loads it.
my $node = start_node('demomap');
my $words = EmbedTest::plain_file('words-10k.tsv.gz');
$node->safe_psql('postgres', qq{
	CREATE TABLE words (id integer PRIMARY KEY, word text NOT NULL UNIQUE, embedding vector(100) NOT NULL);
	COPY words (id, word, embedding) FROM '$words';
	ANALYZE words;
});

# Run map.sql as the demo does (psql, echoing queries); keep its points and
# labels in tables of their own (map.sql leaves temp tables).
sub draw_map
{
	my ($svg, @keep) = @_;
	my @cmd = ('psql', '-X', '-e', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
		'-d', 'postgres', '-v', "mapfile=$svg", '-f', $map_sql, @keep);
	my ($ok, $out, $err) = run_cmd(@cmd);
	ok($ok, "test/demo/map.sql runs and writes $svg") or diag("stdout:\n$out\nstderr:\n$err");
	return $out;
}

my $svg = "$tmp/map.svg";
my $echo = draw_map($svg,
	'-c', 'CREATE TABLE points AS SELECT * FROM map_points',
	'-c', 'CREATE TABLE labels AS SELECT * FROM map_labels');
ok(-s $svg, 'the map file exists and is not empty');
like($echo, qr/pca\(v, 2\).*kmeans\(v, 10, 'cosine'\)/s, 'the echoed SQL shows pca() and kmeans()');
unlike($echo, qr/<svg|<circle/, 'the SVG text is not echoed to the terminal');

# Deterministic: kmeans() and pca() have fixed seeds and orders.
draw_map("$tmp/again.svg");
ok(slurp_file($svg) eq slurp_file("$tmp/again.svg"), 'a second run writes the same bytes');

# What SQL says the map must show.
my $n_points = $node->safe_psql('postgres', 'SELECT count(*) FROM points');
cmp_ok($n_points, '>=', 1500, "SQL mapped at least 1,500 words ($n_points)");
my @labels = split /\n/, $node->safe_psql('postgres', 'SELECT word FROM labels ORDER BY word');
ok((grep { $_ eq 'king' } @labels) && (grep { $_ eq 'paris' } @labels) && @labels >= 10,
	'labelled words include king and paris (' . scalar(@labels) . ' in all)');
is($node->safe_psql('postgres',
		'SELECT count(*) FROM labels l WHERE NOT EXISTS (SELECT FROM points p WHERE p.word = l.word)'),
	'0', 'every labelled word is mapped');
my %sizes = map { split /\|/ } split /\n/,
  $node->safe_psql('postgres', 'SELECT cluster, count(*) FROM points GROUP BY cluster');
is(scalar keys %sizes, $k, "the words fall in $k clusters");

# Parse the SVG (Python's XML parser): the facts the checks below need, as JSON.
my $checker = <<'PY';
import json, sys, xml.etree.ElementTree as ET
ns = '{http://www.w3.org/2000/svg}'
root = ET.parse(sys.argv[1]).getroot()
out = {'tag': root.tag, 'width': root.get('width'), 'height': root.get('height'),
       'viewBox': root.get('viewBox'), 'points': {}, 'rings': 0, 'outside': 0, 'texts': []}
for c in root.iter(ns + 'circle'):
    x, y, r = float(c.get('cx')), float(c.get('cy')), c.get('r')
    if r == '2.6':
        out['points'][c.get('fill')] = out['points'].get(c.get('fill'), 0) + 1
        if not (20 <= x <= 690 and 70 <= y <= 780):
            out['outside'] += 1
    elif r == '4.5':
        out['rings'] += 1
for t in root.iter(ns + 'text'):
    out['texts'].append(''.join(t.itertext()))
print(json.dumps(out))
PY

sub check_svg
{
	my ($file, $what) = @_;
	my ($ok, $out, $err) = run_cmd($python, '-c', $checker, $file);
	ok($ok, "$what: well-formed XML") or diag($err);
	my $m = eval { decode_json($out) } // {};
	is($m->{tag}, '{http://www.w3.org/2000/svg}svg', "$what: the root is an SVG element");
	ok($m->{width} && $m->{height} && $m->{viewBox}, "$what: width, height and viewBox");
	my $points = 0;
	$points += $_ for values %{ $m->{points} // {} };
	is($points, $n_points, "$what: one dot per mapped word ($points)");
	is($m->{outside}, 0, "$what: every dot lies inside the plot");
	my %texts = map { $_ => 1 } @{ $m->{texts} // [] };
	my @missing = grep { !$texts{$_} } @labels;
	is("@missing", '', "$what: every labelled word has its label");
	is($m->{rings}, scalar @labels, "$what: one ringed dot per labelled word");
	# Colours are clusters: cluster i is palette colour i, with as many dots
	# as SQL put in the cluster, and a legend line giving that size.
	my @wrong = grep {
		($m->{points}{ $palette[ $_ - 1 ] } // 0) != $sizes{$_}
		  || !$texts{"$_: $sizes{$_} words"}
	} sort { $a <=> $b } keys %sizes;
	is("@wrong", '', "$what: each cluster's colour has its cluster's dots and a legend line");
	is(scalar keys %{ $m->{points} // {} }, $k, "$what: $k colours");
	ok((grep { /^[\d,]+ word vectors on two principal axes/ } keys %texts), "$what: title");
}

check_svg($svg, 'the map');
# The README shows the committed copy: it must be a map of the same words.
check_svg($committed, 'test/demo/embedding-map.svg');
note('test/demo/embedding-map.svg is '
	  . (slurp_file($committed) eq slurp_file($svg) ? '' : 'NOT ')
	  . 'byte-identical to the map drawn here');

# The checks can fail: a truncated file is not well-formed.
my $broken = "$tmp/broken.svg";
{
	open(my $o, '>', $broken) or die;
	print $o substr(slurp_file($svg), 0, 5000);
	close $o;
	my ($ok) = run_cmd($python, '-c', $checker, $broken);
	ok(!$ok, 'a truncated map fails the XML check');
}

SKIP:
{
	skip 'chromium is not installed (make test installs Debian\'s chromium when apt can; '
	  . 'it could not here), so the map is not rendered', 6
	  unless chromium();

	my ($ok, $out, $err) = chromium_run($tmp, 'dom', '--dump-dom', "file://$svg");
	my $parse_error = qr/parsererror|This page contains the following errors/;
	ok($ok && $out =~ /<svg/ && $out !~ $parse_error, 'chromium parses the map without error')
	  or diag("stdout:\n" . substr($out, 0, 2000) . "\nstderr:\n$err");
	($ok, $out, $err) = chromium_run($tmp, 'broken', '--dump-dom', "file://$broken");
	ok($out =~ $parse_error, 'chromium reports the XML error of a truncated map (the check can fail)')
	  or diag(substr($out, 0, 2000));

	my $png = "$tmp/map.png";
	($ok, $out, $err) = chromium_run($tmp, 'shot', "--screenshot=$png", "file://$svg");
	ok($ok && -s $png, 'chromium renders the map to a screenshot') or diag($err);

	# Not blank, and every cluster visible: in the plot (x < 700), pixels of
	# the cluster's colour as a 55%-opaque dot on white; in the legend, of
	# the colour itself.
	($ok, $out, $err) = run_cmd($python, '-c', <<'PY', $png, @palette);
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert('RGB')
w, h = im.size
cols = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in sys.argv[2:]]
faint = [tuple(round(0.55 * v + 0.45 * 255) for v in c) for c in cols]
near = lambda p, c, t: all(abs(a - b) <= t for a, b in zip(p, c))
# colour histograms of the plot (x < 700) and of the legend
left = im.crop((0, 0, 700, h)).getcolors(1 << 24)
right = im.crop((700, 0, w, h)).getcolors(1 << 24)
ink = sum(n for n, p in left + right if p != (255, 255, 255))
plot = [sum(n for n, p in left if near(p, c, 8)) for c in faint]
legend = [sum(n for n, p in right if near(p, c, 12)) for c in cols]
print(w, h, ink / (w * h), min(plot), min(legend))
PY
	my ($w, $h, $inkshare, $plot, $legend) = split ' ', $out // '';
	ok($ok && $w == 1000 && $h == 800, 'screenshot is 1000x800') or diag("$out $err");
	ok(($inkshare // 0) > 0.02, 'screenshot is not blank (ink ' . ($inkshare // '?') . ')');
	ok(($plot // 0) >= 200 && ($legend // 0) >= 50,
		"every cluster's colour shows: at least 200 pixels of dots and 50 of legend "
		  . '(fewest: ' . ($plot // '?') . ' and ' . ($legend // '?') . ')');
}

$node->stop;
done_testing();
