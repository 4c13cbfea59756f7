"""Config loading from three sources (dict, .env, environment) plus dataclass validation."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass

from lcore import Lcore

HERE = os.path.dirname(os.path.abspath(__file__))
logger = logging.getLogger("taskflow")


@dataclass
class AppConfigSchema:
    """Dataclass schema for config validation."""
    debug: bool = False
    secret_key: str = 'change-me'
    host: str = '0.0.0.0'
    port: int = 8080
    db_path: str = './taskflow.db'
    cors_origins: str = '*'
    smtp_host: str = 'smtp.gmail.com'
    smtp_port: int = 587
    smtp_user: str = ''
    smtp_password: str = ''
    smtp_from: str = 'noreply@taskflow.local'
    smtp_use_tls: bool = True
    rate_limit_default: int = 100
    rate_limit_window: int = 60
    max_upload_size: int = 10_485_760
    upload_dir: str = './uploads'
    redis_url: str = ''
    sse_heartbeat: float = 15.0


# The validated settings, shared by the modules (set by configure_app()).
settings = AppConfigSchema()


def configure_app(app: Lcore) -> AppConfigSchema:
    """Load configuration from multiple sources and validate."""
    # 1. Load defaults via dict
    app.config.load_dict({
        'debug': False,
        'secret_key': 'change-me-in-production',
        'host': '0.0.0.0',
        'port': 8080,
        'db_path': './taskflow.db',
        'cors_origins': '*',
        'smtp_host': 'smtp.gmail.com',
        'smtp_port': 587,
        'smtp_user': '',
        'smtp_password': '',
        'smtp_from': 'noreply@taskflow.local',
        'smtp_use_tls': True,
        'rate_limit_default': 100,
        'rate_limit_window': 60,
        'max_upload_size': 10_485_760,
        'upload_dir': './uploads',
        'redis_url': '',
        'sse_heartbeat': 15.0,
    })

    # 2. Load from .env file (overrides defaults)
    env_path = os.path.join(HERE, '.env')
    app.config.load_dotenv(env_path, prefix='APP_')

    # 3. Load from environment variables with APP_ prefix (overrides .env)
    app.config.load_env('APP_', strip_prefix=True)
    # Live updates across workers: TASKFLOW_REDIS_URL names the Redis server.
    if os.environ.get('TASKFLOW_REDIS_URL'):
        app.config['redis_url'] = os.environ['TASKFLOW_REDIS_URL']

    # 4. Validate config against schema (strings from the environment become int/bool)
    try:
        app.config.validate_config(AppConfigSchema)
        logger.info("[CONFIG] Configuration validated successfully")
    except ValueError as e:
        logger.warning("[CONFIG WARNING] %s", e)

    # Relative paths are relative to this directory, not to the server's cwd.
    for key in ('db_path', 'upload_dir'):
        path = str(app.config[key])
        if not os.path.isabs(path):
            app.config[key] = os.path.normpath(os.path.join(HERE, path))

    for field in dataclasses.fields(AppConfigSchema):
        if field.name in app.config:
            setattr(settings, field.name, app.config[field.name])
    return settings
