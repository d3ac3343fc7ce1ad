# The answer key of bloc5-bdd: MariaDB on the LAN address only, the database gestion, and
# an application account with the four data privileges on it, from the LAN only.
set -euo pipefail
addr=$(hostname -I | awk '{print $1}')
pw=${LABGRADE_SECRET_APP_DB//\'/\'\'}
printf '[mysqld]\nbind-address = %s\nskip-name-resolve\n' "$addr" > /etc/mysql/mariadb.conf.d/99-lab.cnf
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
systemctl enable mariadb
systemctl restart mariadb
mysql <<SQL
DELETE FROM mysql.global_priv WHERE User = '';
CREATE DATABASE gestion;
CREATE TABLE gestion.clients (id INT PRIMARY KEY, nom VARCHAR(80) NOT NULL);
INSERT INTO gestion.clients VALUES (1, 'Dupont SARL'), (2, 'Martin et fils');
CREATE USER 'app'@'10.213.%' IDENTIFIED BY '$pw';
GRANT SELECT, INSERT, UPDATE, DELETE ON gestion.* TO 'app'@'10.213.%';
FLUSH PRIVILEGES;
SQL
