# Typical mistakes, each costing one task:
# - the password file left readable by all (password-file);
# - the timer written but never enabled nor started (schedule);
# - the only backup is the one made by hand three days ago: the timer never ran (snapshot-recent).
set -e
chmod 0644 /root/.restic-password
systemctl disable --now sauvegarde.timer
rm -rf /srv/sauvegarde
restic -q -r /srv/sauvegarde --password-file /root/.restic-password init
restic -q -r /srv/sauvegarde --password-file /root/.restic-password backup \
  --time "$(date -d '3 days ago' '+%Y-%m-%d %H:%M:%S')" /srv/donnees
