"""Static checks of the deployment description: docker-compose.yml, Dockerfile and deploy/.

No Docker engine is needed. The compose file is validated by a compose CLI when one is
installed (``docker-compose`` or the ``docker compose`` plugin) and always parsed and checked
for the structure the deployment relies on. The topic script runs without a broker.
"""

from __future__ import annotations

import ast
import os
import re
import secrets
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import RiecSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
KAFKA_INIT = ROOT / "deploy" / "kafka-init.sh"
POSTGRES_INIT = ROOT / "deploy" / "postgres-init.sql"

AIRFLOW_SERVICES = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
# Values Compose must refuse to run without; deploy/.env.example leaves them empty.
REQUIRED_SECRETS = (
    "POSTGRES_PASSWORD",
    "RIEC_DB_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
)
# RiecSettings that belong to the partners only (riec.settings.Settings documents them so).
PARTNER_SECRET_NAME = re.compile(r"PARTNER_(SECRET|KEY)", re.IGNORECASE)
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def _env_example_assignments() -> dict[str, str]:
    assignments = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            assignments[name.strip()] = value.strip()
    return assignments


# --- compose CLI ---------------------------------------------------------------------------


def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def _env_file(tmp_path: Path, **overrides: str) -> Path:
    """deploy/.env.example with fresh secrets, as an operator would fill it in."""
    values = {name: secrets.token_hex(16) for name in REQUIRED_SECRETS} | overrides
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if "=" in line and name in values else line)
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_compose_config(cli: list[str], env_file: Path, home: Path) -> subprocess.CompletedProcess:
    # A clean environment: variables of the developer's shell must not satisfy the file.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    return subprocess.run(
        [*cli, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_compose_cli_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no compose CLI: neither docker-compose nor a working `docker compose`")
    result = _run_compose_config(cli, _env_file(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_cli_refuses_to_run_without_a_secret(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no compose CLI: neither docker-compose nor a working `docker compose`")
    result = _run_compose_config(cli, _env_file(tmp_path, POSTGRES_PASSWORD=""), tmp_path)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


# --- structure -------------------------------------------------------------------------------


def test_kafka_runs_in_kraft_mode_without_zookeeper(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    assert not any(
        "zookeeper" in name or "zookeeper" in str(s.get("image", ""))
        for name, s in services.items()
    )
    kafka = services["kafka"]
    env = _env(kafka)
    assert str(kafka["image"]).startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert "CONTROLLER" in env["KAFKA_LISTENERS"] and "PLAINTEXT" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert not any(name.startswith("KAFKA_ZOOKEEPER") for name in env)
    assert "/opt/kafka/bin/" in str(kafka["healthcheck"]["test"])
    volume = kafka["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_kafka_init_creates_the_topics_once_kafka_is_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    init = services["kafka-init"]
    env = _env(init)
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert init["restart"] == "no"
    assert "RIEC_PARTNERS" in env
    assert ":-6}" in env["RIEC_PARTNER_TOPIC_PARTITIONS"]
    assert any(v.startswith("./deploy/kafka-init.sh:") for v in init["volumes"])


def test_postgres_holds_the_riec_and_airflow_databases(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(
        v.startswith("./deploy/postgres-init.sql:/docker-entrypoint-initdb.d/")
        for v in postgres["volumes"]
    )
    assert any(v.split(":")[0] in compose["volumes"] for v in postgres["volumes"])
    sql = POSTGRES_INIT.read_text(encoding="utf-8")
    assert "CREATE DATABASE riec OWNER riec" in sql
    assert "CREATE DATABASE airflow OWNER airflow" in sql


def _dockerfile_base_image() -> str:
    args: dict[str, str] = {}
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"ARG (\w+)=(\S+)", line):
            args[match[1]] = match[2]
        elif line.startswith("FROM "):
            return re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], line.split()[1])
    raise AssertionError("Dockerfile has no FROM line")


def test_dockerfile_installs_the_project_on_airflow_3() -> None:
    assert re.fullmatch(r"apache/airflow:3\.\d+\.\d+-python3\.11", _dockerfile_base_image())
    text = DOCKERFILE.read_text(encoding="utf-8")
    # The RIEC side: the project with its `riec` extra (the base alone is the partner toolkit).
    assert re.search(r"pip install [^\n]*\s\"\.\[riec\]\"\s*(\\|$)", text, re.MULTILINE)
    assert "['optional-dependencies']['riec']" in text
    assert "/opt/airflow/dags/" in text


def test_airflow_3_services_share_the_project_image(
    services: dict[str, dict[str, Any]],
) -> None:
    image = services["matching"]["image"]
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["image"] == image, name
        assert service["build"]["context"] == "."
        assert service["command"] == command
        env = _env(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-api-server:8080/execution/"
        )
        assert "FabAuthManager" in env["AIRFLOW__CORE__AUTH_MANAGER"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
        assert service["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert not any("webserver" in str(s.get("command", "")) for s in services.values())
    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        env = _env(services[name])
        assert env["RIEC_DATABASE_URL"].endswith("@postgres:5432/riec")


def test_airflow_init_migrates_and_creates_the_admin(services: dict[str, dict[str, Any]]) -> None:
    init = services["airflow-init"]
    script = "\n".join(init["command"])
    assert "airflow db migrate" in script
    assert "airflow users create" in script and "--role Admin" in script
    assert init["restart"] == "no"


def test_matching_service_runs_the_consumer(services: dict[str, dict[str, Any]]) -> None:
    matching = services["matching"]
    env = _env(matching)
    assert matching["command"] == ["riec", "match", "run"]
    assert matching["restart"] == "unless-stopped"
    assert "http://localhost:9464/healthz" in matching["healthcheck"]["test"]
    assert env["RIEC_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["RIEC_DATABASE_URL"].startswith("postgresql+psycopg://riec:")
    assert env["RIEC_DATABASE_URL"].endswith("@postgres:5432/riec")
    # `docker compose up --scale matching=N` needs no fixed name and no published port.
    for key in ("deploy", "container_name", "ports"):
        assert key not in matching


def test_no_partner_secret_reaches_the_riec_side(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        # An env_file would pass every variable of that file to the container unchecked.
        assert "env_file" not in service, name
        assert not [key for key in _env(service) if PARTNER_SECRET_NAME.search(key)], name
    assert not [key for key in _env_example_assignments() if PARTNER_SECRET_NAME.search(key)]


def test_services_wait_for_healthy_postgres_and_kafka(
    services: dict[str, dict[str, Any]],
) -> None:
    users = {"postgres": 0, "kafka": 0}
    for name, service in services.items():
        values = " ".join(_env(service).values())
        needs = {
            "postgres": "@postgres:" in values and name != "postgres",
            "kafka": "kafka:9092" in values and name != "kafka",
        }
        for dependency, needed in needs.items():
            if needed:
                users[dependency] += 1
                condition = service["depends_on"][dependency]["condition"]
                assert condition == "service_healthy", f"{name} -> {dependency}"
        for dependency in ("airflow-init", "kafka-init"):
            if dependency in service.get("depends_on", {}):
                condition = service["depends_on"][dependency]["condition"]
                assert condition == "service_completed_successfully", f"{name} -> {dependency}"
    # Guard against the check above passing because nothing was recognised.
    assert users["postgres"] >= 6 and users["kafka"] >= 4


def test_env_example_documents_every_variable(compose: dict[str, Any]) -> None:
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    assignments = _env_example_assignments()
    compose_lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    code = "\n".join(line for line in compose_lines if not line.lstrip().startswith("#"))
    used = set(COMPOSE_VARIABLE.findall(code))
    assert {"RIEC_DB_PASSWORD", "RIEC_PARTNERS"} <= used
    assert used - assignments.keys() == set()
    for name in REQUIRED_SECRETS:
        assert assignments[name] == "", f"{name} must be left for the operator to generate"
    for field in RiecSettings.model_fields:
        assert f"RIEC_{field.upper()}" in example, field


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {"**/.env", ".git/", ".venv/", "var/"} <= patterns


# --- what `pip install .` puts into the image -------------------------------------------------


def _setuptools_config() -> dict[str, Any]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["tool"]["setuptools"]


def _packaged_top_level() -> set[str]:
    include = _setuptools_config()["packages"]["find"]["include"]
    local = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    return {name for name in local if any(fnmatch(name, pattern) for pattern in include)}


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_image_has_every_package_the_dags_and_services_import() -> None:
    packaged = _packaged_top_level()
    local = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    sources = [*ROOT.glob("dags/*.py")]
    for package in packaged:
        sources.extend((ROOT / package).rglob("*.py"))
    missing = {
        f"{name} (imported by {path.relative_to(ROOT)})"
        for path in sources
        for name in _top_level_imports(path) & local - packaged
    }
    assert not missing, "add to [tool.setuptools.packages.find] include: " + ", ".join(
        sorted(missing)
    )


def test_image_has_the_data_files_of_every_package() -> None:
    package_data = _setuptools_config().get("package-data", {})
    missing = []
    for top in _packaged_top_level():
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"}:
                continue
            if "__pycache__" in path.parts:
                continue
            # setuptools keys package data by the innermost package holding the file.
            package_dir = next(p for p in path.parents if (p / "__init__.py").exists())
            package = package_dir.relative_to(ROOT).as_posix().replace("/", ".")
            relative = path.relative_to(package_dir).as_posix()
            if not any(fnmatch(relative, pattern) for pattern in package_data.get(package, [])):
                missing.append(f"{package}: {relative}")
    assert not missing, "add to [tool.setuptools.package-data]: " + ", ".join(sorted(missing))


# --- kafka-init.sh -----------------------------------------------------------------------------


def _run_kafka_init(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    if shutil.which("sh") is None:
        pytest.skip("no POSIX sh")
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    return subprocess.run(
        ["sh", str(KAFKA_INIT)],
        capture_output=True,
        text=True,
        env=base | env,
        timeout=30,
        check=False,
    )


def test_kafka_init_rejects_bad_partner_ids_before_touching_kafka(tmp_path: Path) -> None:
    result = _run_kafka_init(
        tmp_path,
        RIEC_PARTNERS="gemeente-tilburg,Politie_Oost",
        KAFKA_BIN=str(tmp_path / "no-kafka-here"),
    )
    assert result.returncode == 1
    assert "invalid partner id" in result.stderr
    assert "no-kafka-here" not in result.stderr


def _recording_tools(tmp_path: Path, existing_topic: str) -> Path:
    """Stand-ins for the Kafka CLI scripts (they need a JVM and a broker) that log their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    topics = bin_dir / "kafka-topics.sh"
    topics.write_text(
        "#!/bin/sh\n"
        'echo "kafka-topics.sh $*" >> "$CALLS"\n'
        'case "$*" in\n'
        f"  *--list*) echo {existing_topic} ;;\n"
        '  *--describe*) printf "Topic: x\\tPartitionCount: 6\\tReplicationFactor: 1\\n" ;;\n'
        "esac\n",
        encoding="utf-8",
    )
    configs = bin_dir / "kafka-configs.sh"
    configs.write_text('#!/bin/sh\necho "kafka-configs.sh $*" >> "$CALLS"\n', encoding="utf-8")
    for tool in (topics, configs):
        tool.chmod(0o755)
    return bin_dir


def test_kafka_init_creates_missing_topics_and_keeps_existing_ones(tmp_path: Path) -> None:
    calls = tmp_path / "calls.log"
    result = _run_kafka_init(
        tmp_path,
        RIEC_PARTNERS="gemeente-tilburg, politie-oost-brabant",
        KAFKA_BIN=str(_recording_tools(tmp_path, "riec.partner.politie-oost-brabant")),
        CALLS=str(calls),
    )
    assert result.returncode == 0, result.stderr
    log = calls.read_text(encoding="utf-8").splitlines()
    creates = [line for line in log if "--create" in line]
    assert len(creates) == 6
    partner_create, dead_letter_create, *disclosure = creates
    # Requests to partners and their answers: one topic each way per partner.
    for partner in ("gemeente-tilburg", "politie-oost-brabant"):
        assert any(f"--topic riec.requests.{partner} " in line for line in disclosure)
        assert any(f"--topic riec.responses.{partner} " in line for line in disclosure)
    assert "--topic riec.partner.gemeente-tilburg --partitions 6" in partner_create
    assert "--config retention.ms=604800000" in partner_create
    assert "--topic riec.deadletter" in dead_letter_create
    assert all("--bootstrap-server kafka:9092" in line for line in log)
    altered = [line for line in log if line.startswith("kafka-configs.sh")]
    assert len(altered) == 1 and "--entity-name riec.partner.politie-oost-brabant" in altered[0]


# --- schema migrations ---------------------------------------------------------------------


def test_one_migration_job_runs_before_the_services_that_use_the_database(
    services: dict[str, dict[str, Any]],
) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["riec", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert _env(migrate)["RIEC_DB_AUTO_MIGRATE"] == "true"
    users = ["matching", "workspace", "airflow-scheduler", "airflow-dag-processor"]
    users.append("airflow-triggerer")
    for name in users:
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        ), name
        # Replicas only check the revision; none of them changes the schema.
        assert _env(service)["RIEC_DB_AUTO_MIGRATE"] == "false", name


# --- the workspace ---------------------------------------------------------------------------


def test_workspace_serves_the_web_application_behind_the_same_database(
    services: dict[str, dict[str, Any]],
) -> None:
    workspace = services["workspace"]
    env = _env(workspace)
    assert workspace["command"] == ["riec", "web"]
    assert workspace["image"] == services["matching"]["image"]
    assert env["RIEC_DATABASE_URL"] == _env(services["matching"])["RIEC_DATABASE_URL"]
    assert env["RIEC_WEB_HOST"] == "0.0.0.0" and env["RIEC_WEB_PORT"] == "8000"
    assert "http://localhost:8000/healthz" in workspace["healthcheck"]["test"]
    # Published on the host's loopback by default: a TLS proxy in front serves users.
    assert workspace["ports"] == [
        "${RIEC_WEB_BIND:-127.0.0.1}:${RIEC_WEB_PUBLISHED_PORT:-8000}:8000"
    ]
    assert workspace["restart"] == "unless-stopped"
