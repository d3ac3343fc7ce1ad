# The answer key: the data, a restic repository, a nightly timer that has run, a restore.
set -e
mkdir -p /srv/donnees/compta /srv/donnees/rh
printf 'poste;montant\nventes;120000\nachats;80000\n' > /srv/donnees/compta/bilan-2026.csv
head -c 200000 /dev/urandom > /srv/donnees/rh/archive.bin
umask 077
echo 'Sauvegarde-2026!' > /root/.restic-password
umask 022
restic -q -r /srv/sauvegarde --password-file /root/.restic-password init
cat > /etc/systemd/system/sauvegarde.service <<'CONF'
[Unit]
Description=Sauvegarde restic de /srv/donnees

[Service]
Type=oneshot
ExecStart=/usr/bin/restic -q -r /srv/sauvegarde --password-file /root/.restic-password backup /srv/donnees
CONF
cat > /etc/systemd/system/sauvegarde.timer <<'CONF'
[Unit]
Description=Sauvegarde chaque nuit

[Timer]
OnCalendar=*-*-* 02:30:00
Persistent=true

[Install]
WantedBy=timers.target
CONF
systemctl daemon-reload
systemctl enable --now sauvegarde.timer
systemctl start sauvegarde.service
restic -q -r /srv/sauvegarde --password-file /root/.restic-password restore latest \
  --target /root/restauration --include /srv/donnees/compta/bilan-2026.csv
