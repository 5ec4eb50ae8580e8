from providers.sandbox.config import SandboxConfig
from providers.sandbox.provider import SandboxProvider

__all__ = ["SandboxConfig", "SandboxProvider"]
