#!/usr/bin/perl
# Split text into words, in Perl: yields (word, 1) per word, lower-cased, letters only (the
# same rule as count_words.py). A subprocess handler: it reads one JSON [key, text] pair per
# line on stdin and writes JSON lines on stdout, the first saying where its pairs go.
#
# **
# handler_type: mapper
# required_capability: general
# argument_spec:
#   - {name: arguments, type: list}
# request_arguments:
#   text: str
# time_limit_s: 120
use strict;
use warnings;
use JSON::PP;

my $json = JSON::PP->new->utf8->canonical;
binmode STDOUT;
print $json->encode({return => JSON::PP::true}), "\n";   # our pairs are our output
my $lines = 0;
while (my $line = <STDIN>) {
    my ($key, $text) = @{ $json->decode($line) };
    $lines++;
    for my $word (lc($text) =~ /([a-z]+(?:'[a-z]+)?)/g) {
        print $json->encode([$word, 1]), "\n";
    }
}
print STDERR "split $lines argument(s) into words\n";   # goes to the invocation's log
