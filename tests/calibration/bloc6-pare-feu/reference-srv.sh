# The answer key: nginx on 80, 443 and an admin site on 8080; only 22 and 443 let in.
set -e
cat > /etc/nginx/sites-enabled/default <<'CONF'
server {
    listen 80 default_server;
    listen 443 ssl default_server;
    ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem;
    ssl_certificate_key /etc/ssl/private/ssl-cert-snakeoil.key;
    root /var/www/html;
}
server {
    listen 8080;
    location / { return 200 "administration\n"; }
}
CONF
systemctl enable --now nginx
cat > /etc/nftables.conf <<'CONF'
#!/usr/sbin/nft -f
flush ruleset
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
    tcp dport 443 accept
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
  }
  chain output {
    type filter hook output priority 0; policy accept;
  }
}
CONF
systemctl enable --now nftables
