# Typical mistakes: mynetworks opened to the world to "make sending work", mail left in
# the mbox of /var/mail (no home_mailbox), dovecot started by hand but not at boot.
set -euo pipefail
postconf -e 'mynetworks = 0.0.0.0/0' 'home_mailbox ='
rm -rf /home/alice/Maildir /home/bob/Maildir
systemctl restart postfix
systemctl disable dovecot
