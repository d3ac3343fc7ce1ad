# Typical mistakes: the MX target written without its final dot (bind appends the
# domain), the reverse zone never declared, the DHCP handing out a public resolver
# instead of the domain's DNS server, and started by hand but not enabled at boot (an init
# script: update-rc.d's links, which systemctl disable removes).
set -euo pipefail
sed -i 's/MX   10 mail.lab.example./MX   10 mail.lab.example/' /etc/bind/db.lab.example
sed -i '/in-addr.arpa/d' /etc/bind/named.conf.local
systemctl restart named
sed -i 's/^option domain-name-servers .*/option domain-name-servers 9.9.9.9;/' /etc/dhcp/dhcpd.conf
systemctl disable isc-dhcp-server
systemctl restart isc-dhcp-server
for i in $(seq 50); do ss -Hlun 'sport = :67' | grep -q . && exit 0; sleep 0.1; done
echo dhcpd does not listen >&2; exit 1
