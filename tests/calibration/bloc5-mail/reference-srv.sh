# The answer key of bloc5-mail: postfix for lab.example, a closed relay with STARTTLS and
# Maildir delivery; dovecot IMAP with TLS required; the users alice and bob.
set -euo pipefail
for u in alice bob; do
  useradd -m -s /bin/bash "$u"
  mkdir -p "/home/$u/Maildir/cur" "/home/$u/Maildir/new" "/home/$u/Maildir/tmp"
  chown -R "$u:" "/home/$u/Maildir"
done
printf '%s\n' "alice:$LABGRADE_SECRET_ALICE_MAIL" "bob:$LABGRADE_SECRET_BOB_MAIL" | chpasswd
postconf -e 'myhostname = srv.lab.example' 'mydomain = lab.example' \
  'mydestination = $myhostname, lab.example, localhost' 'inet_interfaces = all' \
  'inet_protocols = ipv4' 'mynetworks = 127.0.0.0/8' \
  'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination' \
  'smtpd_tls_security_level = may' \
  'smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem' \
  'smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key' \
  'home_mailbox = Maildir/' 'smtp_dns_support_level = disabled'
newaliases
cat > /etc/dovecot/conf.d/99-lab.conf <<'CONF'
mail_location = maildir:~/Maildir
ssl = required
ssl_cert = </etc/ssl/certs/ssl-cert-snakeoil.pem
ssl_key = </etc/ssl/private/ssl-cert-snakeoil.key
disable_plaintext_auth = yes
CONF
systemctl enable postfix dovecot
systemctl restart postfix dovecot
for port in 25 143 993; do
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && continue 2; sleep 0.1; done
  echo "nothing answers on $port" >&2; exit 1
done
