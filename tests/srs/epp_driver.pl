#!/usr/bin/perl
# Test driver: a real EPP client (Net::EPP::Simple from libnet-epp-perl)
# controlled by the Rust tests through JSON lines on stdin/stdout.
#
#   perl epp_driver.pl HOST PORT CLID PASSWORD CERT KEY
#
# First output line: the login result. Then for each input line
#   {"call":"METHOD","args":[...]}  -> $epp->METHOD(@args)  (Net::EPP::Simple API)
#   {"raw":"<epp>...</epp>"}         -> $epp->request(XML) (frame sent as is)
# one output line {"code":N,"msg":..,"error":..,"result":..,"xml":..}.
use strict;
use warnings;
use Net::EPP::Simple;
use JSON::PP;

$| = 1;
my ($host, $port, $user, $pass, $cert, $key) = @ARGV;
my $json = JSON::PP->new->canonical->allow_nonref->allow_blessed->convert_blessed;

my %params = (
    host => $host, port => $port, user => $user, pass => $pass,
    timeout => 30, reconnect => 0, load_config => 0,
);
if ($cert) { $params{cert} = $cert; $params{key} = $key; }
my $epp = Net::EPP::Simple->new(%params);
if (!$epp) {
    print $json->encode({ login => JSON::PP::false, code => ($Net::EPP::Simple::Code // 0) + 0,
        error => "$Net::EPP::Simple::Error" }), "\n";
    exit 0;
}
print $json->encode({ login => JSON::PP::true, code => ($Net::EPP::Simple::Code // 0) + 0 }), "\n";

while (my $line = <STDIN>) {
    chomp $line;
    next if $line eq '';
    my $req = $json->decode($line);
    my %out;
    if (exists $req->{raw}) {
        my $r = $epp->request($req->{raw});
        if ($r) {
            $out{code} = $epp->_get_response_code($r) + 0;
            $out{reason} = $epp->_get_reason($r);
            $out{xml} = $r->toString;
        } else {
            $out{code} = 0;
            $out{error} = "$Net::EPP::Simple::Error";
        }
    } else {
        my $m = $req->{call};
        my $res = eval { $epp->$m(@{ $req->{args} || [] }) };
        $out{died} = "$@" if $@;
        $out{result} = $res;
        $out{code} = ($Net::EPP::Simple::Code // 0) + 0;
        $out{msg} = "$Net::EPP::Simple::Message";
        $out{error} = "$Net::EPP::Simple::Error";
    }
    print $json->encode(\%out), "\n";
}
