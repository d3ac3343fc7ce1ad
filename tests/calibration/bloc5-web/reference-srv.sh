# The answer key of bloc5-web: two name-based sites over HTTPS, HTTP redirected.
set -euo pipefail
for pair in intranet.lab.example:Intranet extranet.lab.example:Extranet; do
  site=${pair%%:*} name=${pair##*:}
  root=/var/www/${name,,}
  mkdir -p "$root"
  printf '<!doctype html>\n<title>%s</title>\n<h1>%s du laboratoire</h1>\n' "$name" "$name" > "$root/index.html"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$site" \
    -addext "subjectAltName=DNS:$site" \
    -keyout "/etc/ssl/private/$site.key" -out "/etc/ssl/certs/$site.pem" 2>/dev/null
  chmod 600 "/etc/ssl/private/$site.key"
  cat > "/etc/nginx/sites-available/$site" <<NGINX
server {
    listen 80;
    server_name $site;
    return 301 https://\$host\$request_uri;
}
server {
    listen 443 ssl;
    server_name $site;
    ssl_certificate /etc/ssl/certs/$site.pem;
    ssl_certificate_key /etc/ssl/private/$site.key;
    root $root;
    index index.html;
}
NGINX
  ln -sf "/etc/nginx/sites-available/$site" "/etc/nginx/sites-enabled/$site"
done
rm -f /etc/nginx/sites-enabled/default
nginx -t 2>/dev/null
systemctl enable nginx
systemctl restart nginx
