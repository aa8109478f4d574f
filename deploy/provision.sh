#!/usr/bin/env bash
# Provision one Ubuntu 24.04 EC2 instance for sor: Java, Apache Kafka in KRaft mode (no
# ZooKeeper) with SASL/SCRAM-SHA-512 on its one client listener at the instance's private
# address, the controller on the loopback interface only, the project in a virtual
# environment, and systemd units for the broker, the producer and the backtester.
#
# Run as root on the instance, from a checkout of the repository:
#   sudo deploy/provision.sh [--dry-run] [DATA_FILE]
# DATA_FILE (optional) is the Databento MBP CSV to replay; without it the units use
# generated data.
#
# --dry-run (or SOR_PROVISION_DRY_RUN=1) prints every command instead of running it and
# writes the files under SOR_PROVISION_ROOT (a new temporary folder when unset); it needs
# neither root nor the network, and changes nothing outside that folder.
#
# Environment: KAFKA_VERSION, SCALA_VERSION, KAFKA_SHA512 (pins the archive's digest; wins
# over the published .sha512 file), SOR_PRIVATE_IP (skips the address lookup),
# SOR_METADATA_URL (the EC2 instance metadata service).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
SCALA_VERSION="${SCALA_VERSION:-2.13}"
KAFKA_SHA512="${KAFKA_SHA512:-}"
# The current releases live on downloads.apache.org; older ones move to the archive.
KAFKA_MIRRORS="${KAFKA_MIRRORS:-https://downloads.apache.org/kafka https://archive.apache.org/dist/kafka}"
METADATA_URL="${SOR_METADATA_URL:-http://169.254.169.254/}"
KAFKA_HOME=/opt/kafka
KAFKA_DATA=/var/lib/kafka
SOR_HOME=/opt/sor
SOR_ETC=/etc/sor
SOR_USER=sor
BROKER_USER=kafka-broker
SCRAM="SCRAM-SHA-512"
CLIENT_PORT=9092
CONTROLLER_PORT=9093
TOPIC=mock_l1_stream
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DRY_RUN="${SOR_PROVISION_DRY_RUN:-0}"
ROOT=""
SECRETS=()

die() {
    echo "provision.sh: error: $*" >&2
    exit 1
}

# Print a command with the secrets masked.
show() {
    local line="+ $*" secret
    for secret in "${SECRETS[@]}"; do
        line="${line//${secret}/***}"
    done
    echo "${line}"
}

# Run a command that changes the system; in a dry run, only print it.
run() {
    if [[ "${DRY_RUN}" == 1 ]]; then
        show "$@"
    else
        "$@"
    fi
}

# Where a system path lives: itself, or under the dry run's folder.
target() {
    printf '%s%s' "${ROOT}" "$1"
}

# Write stdin to PATH with MODE and OWNER (user:group); a dry run writes under ROOT and only
# prints the chown. The mode is set before the content goes in, so no secret is ever
# readable by others.
write_file() {
    local path="$1" mode="$2" owner="$3" file
    file="$(target "${path}")"
    mkdir -p "$(dirname "${file}")"
    install -m "${mode}" /dev/null "${file}"
    cat > "${file}"
    echo "wrote ${path} (mode ${mode})"
    if [[ "${DRY_RUN}" == 1 ]]; then
        show chown "${owner}" "${path}"
    else
        chown "${owner}" "${file}"
    fi
}

# True when $1 is a dotted-quad IPv4 address.
valid_ipv4() {
    local IFS=. octet
    [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
    # shellcheck disable=SC2086 # split on the dots
    for octet in $1; do
        ((10#${octet} <= 255)) || return 1
    done
}

# The private address from the instance metadata service (IMDSv2), or nothing. Short
# timeouts: off EC2 nothing answers and the fallback must come quickly.
metadata_ipv4() {
    local token
    token="$(curl -fsS --connect-timeout 2 --max-time 4 -X PUT \
        -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
        "${METADATA_URL%/}/latest/api/token" 2>/dev/null)" || true
    [[ -n "${token}" ]] || return 0
    curl -fsS --connect-timeout 2 --max-time 4 -H "X-aws-ec2-metadata-token: ${token}" \
        "${METADATA_URL%/}/latest/meta-data/local-ipv4" 2>/dev/null || true
}

# The instance's private IPv4 address: SOR_PRIVATE_IP, else the metadata service, else the
# first IPv4 address `hostname -I` lists. Kafka listens there only, never on a public one.
private_ipv4() {
    local address
    if [[ -n "${SOR_PRIVATE_IP:-}" ]]; then
        valid_ipv4 "${SOR_PRIVATE_IP}" || die "SOR_PRIVATE_IP=${SOR_PRIVATE_IP} is not an IPv4 address"
        echo "${SOR_PRIVATE_IP}"
        return
    fi
    address="$(metadata_ipv4)"
    if valid_ipv4 "${address}"; then
        echo "${address}"
        return
    fi
    echo "the metadata service at ${METADATA_URL} gave no address; using hostname -I" >&2
    for address in $(hostname -I 2>/dev/null || true); do
        if valid_ipv4 "${address}" && [[ "${address}" != 127.* ]]; then
            echo "${address}"
            return
        fi
    done
    die "no private IPv4 address: the metadata service at ${METADATA_URL} did not answer and hostname -I lists none; set SOR_PRIVATE_IP"
}

# The SHA-512 digest in a checksum file, as 128 lowercase hex digits. Reads Apache's format
# (`NAME: 1234ABCD 5678EF01 ...`, upper case, in groups wrapped over lines) and sha512sum's
# (`digest  NAME`).
sha512_digest() {
    local text
    text="$(cat "$1")"
    if [[ "${text}" == *:* ]]; then
        text="${text#*:}"
    else
        text="${text%%[[:space:]]*}"
    fi
    text="$(printf '%s' "${text}" | tr -d '[:space:]' | tr 'A-F' 'a-f')"
    [[ "${text}" =~ ^[0-9a-f]{128}$ ]] || return 1
    echo "${text}"
}

# Download PATH (relative to a mirror) to OUT from the first mirror that has it.
fetch_apache() {
    local path="$1" out="$2" mirror
    for mirror in ${KAFKA_MIRRORS}; do
        if run curl -fsSL --connect-timeout 10 --retry 2 -o "${out}" "${mirror}/${path}"; then
            return 0
        fi
        echo "${mirror}/${path} did not download; trying the next mirror" >&2
    done
    die "could not download ${path} from any of: ${KAFKA_MIRRORS}"
}

# Download ARCHIVE (a Kafka release file name) into DIR and check it against KAFKA_SHA512
# when set, else against the .sha512 file published beside it. Stops on a mismatch.
fetch_kafka() {
    local dir="$1" archive="$2" sums expected actual
    sums="${dir}/${archive}.sha512"
    fetch_apache "${KAFKA_VERSION}/${archive}" "${dir}/${archive}"
    if [[ -n "${KAFKA_SHA512}" ]]; then
        printf '%s\n' "${KAFKA_SHA512}" > "${sums}"
    else
        fetch_apache "${KAFKA_VERSION}/${archive}.sha512" "${sums}"
    fi
    if [[ -f "${sums}" ]]; then
        expected="$(sha512_digest "${sums}")" \
            || die "no SHA-512 digest (128 hex digits) in ${KAFKA_SHA512:+KAFKA_SHA512}${KAFKA_SHA512:-${archive}.sha512}"
    fi
    if [[ "${DRY_RUN}" == 1 ]]; then
        show sha512sum -c "${archive}.sha512"
        return
    fi
    if ! (cd "${dir}" && printf '%s  %s\n' "${expected}" "${archive}" | sha512sum -c --quiet - >/dev/null 2>&1); then
        actual="$(sha512sum "${dir}/${archive}" | cut -d' ' -f1)"
        die "${archive} does not match its published SHA-512: expected ${expected}, got ${actual}"
    fi
    echo "${archive}: SHA-512 checked"
}

# 64 random hex digits.
random_secret() {
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# The value of NAME=value in FILE, or nothing.
read_setting() {
    local file="$1" name="$2"
    [[ -f "${file}" ]] || return 0
    sed -n "s/^${name}=//p" "${file}" | head -n 1
}

kafka_properties() {
    local ip="$1" broker_password="$2"
    cat <<PROPERTIES
# Written by deploy/provision.sh. One node, broker and controller (KRaft, no ZooKeeper).
process.roles=broker,controller
node.id=1
# The controller listens on the loopback interface only.
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
controller.listener.names=CONTROLLER
# Clients (and the broker itself) authenticate with SCRAM-SHA-512 on the private address.
listeners=CLIENT://${ip}:${CLIENT_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=CLIENT://${ip}:${CLIENT_PORT}
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=CLIENT
sasl.enabled.mechanisms=${SCRAM}
sasl.mechanism.inter.broker.protocol=${SCRAM}
listener.name.client.sasl.enabled.mechanisms=${SCRAM}
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${BROKER_USER}" password="${broker_password}";
log.dirs=${KAFKA_DATA}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
PROPERTIES
}

client_toml() {
    local ip="$1" password="$2"
    cat <<TOML
# Written by deploy/provision.sh: where sor finds the broker, and its credentials.
[kafka]
bootstrap = "${ip}:${CLIENT_PORT}"
topic = "${TOPIC}"

[kafka.client]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "${SCRAM}"
"sasl.username" = "${SOR_USER}"
"sasl.password" = "${password}"
TOML
}

main() {
    local data_file="" arg
    for arg in "$@"; do
        case "${arg}" in
            --dry-run) DRY_RUN=1 ;;
            -h | --help)
                sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
                return 0
                ;;
            -*) die "unknown option ${arg} (try --help)" ;;
            *) data_file="${arg}" ;;
        esac
    done
    if [[ "${DRY_RUN}" == 1 ]]; then
        ROOT="${SOR_PROVISION_ROOT:-$(mktemp -d)}"
        echo "dry run: printing commands, writing files under ${ROOT}"
    elif [[ "$(id -u)" -ne 0 ]]; then
        die "run as root (sudo $0), or try --dry-run"
    fi
    if [[ -n "${data_file}" && ! -f "${data_file}" ]]; then
        die "${data_file}: no such data file"
    fi

    local ip
    ip="$(private_ipv4)"
    echo "private address: ${ip}"

    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-21-jre-headless \
        python3-venv python3-pip make curl
    if ! id -u "${SOR_USER}" >/dev/null 2>&1; then
        run useradd --system --create-home --shell /usr/sbin/nologin "${SOR_USER}"
    fi

    # Apache Kafka, checked against its published SHA-512.
    if [[ ! -x "$(target "${KAFKA_HOME}")/bin/kafka-server-start.sh" ]]; then
        local download archive="kafka_${SCALA_VERSION}-${KAFKA_VERSION}.tgz"
        download="$(mktemp -d)"
        fetch_kafka "${download}" "${archive}"
        run mkdir -p "${KAFKA_HOME}"
        run tar -xzf "${download}/${archive}" -C "${KAFKA_HOME}" --strip-components=1
        rm -rf "${download}"
    fi

    # Credentials: made once, kept on later runs (the SCRAM users live in the formatted log).
    local credentials="${SOR_ETC}/kafka-credentials" client_password broker_password
    client_password="$(read_setting "$(target "${credentials}")" SOR_KAFKA_PASSWORD)"
    broker_password="$(read_setting "$(target "${credentials}")" KAFKA_BROKER_PASSWORD)"
    if [[ -f "$(target "${KAFKA_DATA}")/meta.properties" && -z "${client_password}" ]]; then
        die "${KAFKA_DATA} was formatted without SCRAM users; stop kafka.service and remove ${KAFKA_DATA} to re-provision"
    fi
    if [[ -z "${client_password}" || -z "${broker_password}" ]]; then
        client_password="$(random_secret)"
        broker_password="$(random_secret)"
        printf 'SOR_KAFKA_PASSWORD=%s\nKAFKA_BROKER_PASSWORD=%s\n' \
            "${client_password}" "${broker_password}" | write_file "${credentials}" 0600 root:root
    fi
    SECRETS=("${client_password}" "${broker_password}")

    local properties="${SOR_ETC}/kafka-server.properties"
    kafka_properties "${ip}" "${broker_password}" | write_file "${properties}" 0640 "root:${SOR_USER}"
    client_toml "${ip}" "${client_password}" \
        | write_file "${SOR_ETC}/kafka-client.toml" 0640 "root:${SOR_USER}"
    run mkdir -p "${KAFKA_DATA}"
    if [[ ! -f "$(target "${KAFKA_DATA}")/meta.properties" ]]; then
        local cluster_id="CLUSTER_ID"
        if [[ "${DRY_RUN}" != 1 ]]; then
            cluster_id="$("${KAFKA_HOME}/bin/kafka-storage.sh" random-uuid)"
        fi
        run "${KAFKA_HOME}/bin/kafka-storage.sh" format -t "${cluster_id}" -c "${properties}" \
            --add-scram "${SCRAM}=[name=${SOR_USER},password=${client_password}]" \
            --add-scram "${SCRAM}=[name=${BROKER_USER},password=${broker_password}]"
    fi
    run chown -R "${SOR_USER}:${SOR_USER}" "${KAFKA_DATA}" "${KAFKA_HOME}"

    # The project, in its own virtual environment; no embedded broker: Kafka is here.
    run mkdir -p "${SOR_HOME}/out"
    run cp -r "${REPO_DIR}/." "${SOR_HOME}/src"
    run python3 -m venv "${SOR_HOME}/venv"
    run "${SOR_HOME}/venv/bin/pip" install --quiet --upgrade pip
    run "${SOR_HOME}/venv/bin/pip" install --quiet "${SOR_HOME}/src"
    local data_args=""
    if [[ -n "${data_file}" ]]; then
        run cp "${data_file}" "${SOR_HOME}/data.csv"
        data_args="--data ${SOR_HOME}/data.csv"
    fi
    write_file /etc/default/sor 0644 root:root <<ENVIRONMENT
SOR_CONFIG=${SOR_ETC}/kafka-client.toml
SOR_KAFKA_BOOTSTRAP=${ip}:${CLIENT_PORT}
SOR_KAFKA_TOPIC=${TOPIC}
SOR_DATA_ARGS=${data_args}
SOR_BACKTEST_ARGS=
ENVIRONMENT
    run chown -R "${SOR_USER}:${SOR_USER}" "${SOR_HOME}"

    local unit
    for unit in kafka.service sor-producer.service sor-backtest.service; do
        run install -m 0644 "${REPO_DIR}/deploy/systemd/${unit}" "/etc/systemd/system/${unit}"
    done
    run systemctl daemon-reload
    run systemctl enable --now kafka.service
    echo "Kafka is up on ${ip}:${CLIENT_PORT} (SASL/${SCRAM}, user ${SOR_USER}). Start a run with:"
    echo "  sudo systemctl start sor-backtest.service sor-producer.service"
    echo "Results: ${SOR_HOME}/out/output.json and ${SOR_HOME}/out/results.png"
}

# Sourcing the script (the tests do) defines the functions and runs nothing: `return`
# succeeds only in a sourced file.
if ! (return 0 2>/dev/null); then
    main "$@"
fi
