# Typical mistakes: nginx started by hand but not enabled at boot, the intranet also
# served over plain HTTP instead of redirected, its private key left readable by all.
set -euo pipefail
site=intranet.lab.example
sed -i "0,/return 301 .*/s//root \/var\/www\/intranet;/" /etc/nginx/sites-available/$site
chmod 644 /etc/ssl/private/$site.key
systemctl disable nginx
systemctl restart nginx
