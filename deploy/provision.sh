#!/usr/bin/env bash
# Provision one Ubuntu 24.04 EC2 instance for sor: Java, Apache Kafka in KRaft mode (no
# ZooKeeper) bound to the instance's private address, the project in a virtual
# environment, and systemd units for the broker, the producer and the backtester.
#
# Run as root on the instance, from a checkout of the repository:
#   sudo deploy/provision.sh [DATA_FILE]
# DATA_FILE (optional) is the Databento MBP CSV to replay; without it the units use
# generated data.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
SCALA_VERSION="${SCALA_VERSION:-2.13}"
KAFKA_HOME=/opt/kafka
SOR_HOME=/opt/sor
SOR_USER=sor
DATA_FILE="${1:-}"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "$(id -u)" -ne 0 ]]; then
    echo "run as root (sudo $0)" >&2
    exit 1
fi

# The private address: Kafka listens there only, never on a public interface.
TOKEN="$(curl -sS -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')"
PRIVATE_IP="$(curl -sS -H "X-aws-ec2-metadata-token: ${TOKEN}" \
    http://169.254.169.254/latest/meta-data/local-ipv4)"
if [[ -z "${PRIVATE_IP}" ]]; then
    PRIVATE_IP="$(hostname -I | awk '{print $1}')"
fi
echo "private address: ${PRIVATE_IP}"

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-21-jre-headless python3-venv \
    python3-pip make curl

id -u "${SOR_USER}" >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin "${SOR_USER}"

# Apache Kafka, KRaft mode: one node acting as broker and controller.
if [[ ! -x "${KAFKA_HOME}/bin/kafka-server-start.sh" ]]; then
    archive="kafka_${SCALA_VERSION}-${KAFKA_VERSION}.tgz"
    curl -fsSL "https://downloads.apache.org/kafka/${KAFKA_VERSION}/${archive}" -o "/tmp/${archive}"
    mkdir -p "${KAFKA_HOME}"
    tar -xzf "/tmp/${archive}" -C "${KAFKA_HOME}" --strip-components=1
fi
mkdir -p /var/lib/kafka
cat > "${KAFKA_HOME}/config/sor-kraft.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${PRIVATE_IP}:9093
listeners=PLAINTEXT://${PRIVATE_IP}:9092,CONTROLLER://${PRIVATE_IP}:9093
advertised.listeners=PLAINTEXT://${PRIVATE_IP}:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=/var/lib/kafka
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
PROPERTIES
if [[ ! -f /var/lib/kafka/meta.properties ]]; then
    cluster_id="$("${KAFKA_HOME}/bin/kafka-storage.sh" random-uuid)"
    "${KAFKA_HOME}/bin/kafka-storage.sh" format -t "${cluster_id}" \
        -c "${KAFKA_HOME}/config/sor-kraft.properties"
fi
chown -R "${SOR_USER}:${SOR_USER}" /var/lib/kafka "${KAFKA_HOME}"

# The project, in its own virtual environment.
mkdir -p "${SOR_HOME}"
cp -r "${REPO_DIR}/." "${SOR_HOME}/src"
python3 -m venv "${SOR_HOME}/venv"
"${SOR_HOME}/venv/bin/pip" install --quiet --upgrade pip
"${SOR_HOME}/venv/bin/pip" install --quiet "${SOR_HOME}/src"
mkdir -p "${SOR_HOME}/out"
data_args=""
if [[ -n "${DATA_FILE}" ]]; then
    cp "${DATA_FILE}" "${SOR_HOME}/data.csv"
    data_args="--data ${SOR_HOME}/data.csv"
fi
cat > /etc/default/sor <<ENVIRONMENT
SOR_KAFKA_BOOTSTRAP=${PRIVATE_IP}:9092
SOR_KAFKA_TOPIC=mock_l1_stream
SOR_DATA_ARGS=${data_args}
SOR_BACKTEST_ARGS=
ENVIRONMENT
chown -R "${SOR_USER}:${SOR_USER}" "${SOR_HOME}"

install -m 0644 "${REPO_DIR}/deploy/systemd/kafka.service" /etc/systemd/system/kafka.service
install -m 0644 "${REPO_DIR}/deploy/systemd/sor-producer.service" /etc/systemd/system/sor-producer.service
install -m 0644 "${REPO_DIR}/deploy/systemd/sor-backtest.service" /etc/systemd/system/sor-backtest.service
systemctl daemon-reload
systemctl enable --now kafka.service
echo "Kafka is up on ${PRIVATE_IP}:9092. Start a run with:"
echo "  sudo systemctl start sor-backtest.service sor-producer.service"
echo "Results: ${SOR_HOME}/out/output.json and ${SOR_HOME}/out/results.png"
