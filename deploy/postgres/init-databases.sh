#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d):
# one login role and one database per service. Only the owning role may connect to a
# database, so no service can reach another's data.
# Passwords come from BPO_<SERVICE>_DB_PASSWORD (default: the role name, for development).
set -eo pipefail

create_service_db() {
    local name="bpo_$1"
    local password_var="BPO_${1^^}_DB_PASSWORD"
    local password="${!password_var:-$name}"

    psql -v ON_ERROR_STOP=1 --no-psqlrc \
        --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
        -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
}

for service in intake validation billing reporting; do
    create_service_db "$service"
done
