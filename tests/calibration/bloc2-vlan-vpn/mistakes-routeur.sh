# Typical mistakes on the router, each costing one task:
# - the postes' VLAN declared with dhcp instead of its static gateway address (vlans);
# - the relay told the servers' interface only, not the postes' (dhcp-relay);
# and one on the roaming laptop (mistakes-nomade.sh) that costs the tunnel.
set -e
sed -i 's/^iface eth0\.20 inet static$/iface eth0.20 inet dhcp/' /etc/network/interfaces
sed -i 's/^INTERFACES=.*/INTERFACES="eth0.10"/' /etc/default/isc-dhcp-relay
