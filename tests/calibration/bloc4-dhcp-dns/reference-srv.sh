# The answer key of bloc4-dhcp-dns: bind9 authoritative for lab.example and the reverse
# zone of the network, isc-dhcp-server on eth0.
set -euo pipefail
addr=$(hostname -I | awk '{print $1}')
IFS=. read -r a b c d <<<"$addr"
serial=$(date +%Y%m%d)01

cat > /etc/bind/named.conf.options <<CONF
options {
    directory "/var/cache/bind";
    listen-on { any; };
    listen-on-v6 { none; };
    allow-query { any; };
    recursion no;
    dnssec-validation no;
};
CONF
cat > /etc/bind/named.conf.local <<CONF
zone "lab.example" { type master; file "/etc/bind/db.lab.example"; };
zone "$b.$a.in-addr.arpa" { type master; file "/etc/bind/db.$a.$b"; };
CONF
cat > /etc/bind/db.lab.example <<ZONE
\$TTL 3600
@     IN SOA  srv.lab.example. admin.lab.example. ( $serial 7200 900 1209600 300 )
@     IN NS   srv.lab.example.
@     IN MX   10 mail.lab.example.
srv   IN A    $addr
mail  IN A    $addr
www   IN CNAME srv.lab.example.
ZONE
cat > /etc/bind/db.$a.$b <<ZONE
\$TTL 3600
@     IN SOA  srv.lab.example. admin.lab.example. ( $serial 7200 900 1209600 300 )
@     IN NS   srv.lab.example.
$d.$c IN PTR  srv.lab.example.
ZONE
named-checkconf -z >/dev/null
systemctl enable named
systemctl restart named

cat > /etc/dhcp/dhcpd.conf <<CONF
option domain-name "lab.example";
option domain-name-servers $addr;
default-lease-time 28800;
max-lease-time 86400;
authoritative;
subnet 10.213.0.0 netmask 255.255.0.0 {
    range 10.213.252.100 10.213.252.199;
    option routers 10.213.252.254;
    option subnet-mask 255.255.0.0;
}
CONF
sed -i 's/^INTERFACESv4=.*/INTERFACESv4="eth0"/' /etc/default/isc-dhcp-server
systemctl enable isc-dhcp-server
systemctl restart isc-dhcp-server
for i in $(seq 50); do dig +short +time=1 +tries=1 @127.0.0.1 lab.example SOA | grep -q . && break; sleep 0.1; done
for i in $(seq 50); do ss -Hlun 'sport = :67' | grep -q . && exit 0; sleep 0.1; done
echo dhcpd does not listen >&2; journalctl -u isc-dhcp-server --no-pager >&2; exit 1
