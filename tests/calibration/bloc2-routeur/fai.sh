# The access provider's web server, 203.0.113.6 on the provider link. It has no route to the
# local network 192.168.50.0/24: it can answer the poste only through the router's NAT.
set -e
ip addr add 203.0.113.6/29 dev eth0
mkdir -p /srv/fai
echo 'Fournisseur : bienvenue sur Internet' > /srv/fai/index.html
systemd-run --unit=fai-web --property=WorkingDirectory=/srv/fai \
  python3 -m http.server 8080 --bind 203.0.113.6
for _ in $(seq 50); do
  ss -Htln 'sport = :8080' | grep -q . && exit 0
  sleep 0.1
done
echo "the provider's web server did not start" >&2
exit 1
