"""JobConfig, the body of `POST /api/v2/jobs/{jobName}/start` (API.md section 4), and its
mapping to a scheme (section 3), stored as the job task's scheme.

Names are PascalCase as the Web Data Source API spells them; unknown keys are ignored, so that
clients written for that API keep working. Absent parts take the scheme's defaults.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from engine.scheme import Scheme, Url


def _title(value: Any) -> Any:
    """'retry' / 'RETRY' -> 'Retry', 'fromscratch' -> 'FromScratch' (case-insensitive enums)."""
    if isinstance(value, str):
        known = {"skip": "Skip", "retry": "Retry", "continue": "Continue",
                 "fromscratch": "FromScratch"}
        return known.get(value.strip().lower(), value)
    return value


def _status_codes(value: Any) -> Any:
    """'401, 403' or [401, 403]."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="ignore",
                              frozen=True)


class JobHeader(_Model):
    name: str = Field(min_length=1)
    values: list[str] = []


class JobHeaders(_Model):
    default_request_headers: list[JobHeader] = []


class JobCookies(_Model):
    use_cookies: bool = True


class JobHttps(_Model):
    suppress_https_certificate_validation: bool = False


class JobProxyServer(_Model):
    protocol: Literal["http", "https"] = "http"
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    user_name: str | None = None
    password: str | None = None
    connections_limit: int = Field(default=4, ge=1, le=1000)

    def url(self) -> str:
        auth = ""
        if self.user_name:
            auth = quote(self.user_name, safe="") + ":" + quote(self.password or "", safe="") + "@"
        return f"{self.protocol}://{auth}{self.host}:{self.port}"


class JobProxy(_Model):
    use_proxy: bool = False
    send_overt_requests_on_proxies_failure: bool = True
    iterate_proxy_response_codes: Annotated[
        list[Annotated[int, Field(ge=100, le=599)]], BeforeValidator(_status_codes)
    ] = [401, 403]
    proxies: list[JobProxyServer] = []


class JobRetryPolicyParams(_Model):
    retry_delay_ms: int = Field(default=500, ge=0, le=600_000)
    retries_limit: int = Field(default=2, ge=0, le=20)


class JobDownloadErrorHandling(_Model):
    policy: Annotated[Literal["Skip", "Retry"], BeforeValidator(_title)] = "Retry"
    retry_policy_params: JobRetryPolicyParams = JobRetryPolicyParams()


class JobCrawlDelay(_Model):
    host: str = ""  # empty or "*": every host
    delay: str = "0"


class JobCrawlersProtectionBypass(_Model):
    max_response_size_kb: int = Field(default=10_240, ge=1, le=1_048_576)
    max_redirect_hops: int = Field(default=10, ge=0, le=100)
    request_timeout_sec: float = Field(default=30, gt=0, le=600)
    crawl_delays: list[JobCrawlDelay] = []


class JobRestart(_Model):
    job_restart_mode: Annotated[Literal["Continue", "FromScratch"],
                                BeforeValidator(_title)] = "Continue"


class JobConfig(_Model):
    start_urls: list[Url] = Field(min_length=1, max_length=100_000)
    headers: JobHeaders = JobHeaders()
    cookies: JobCookies = JobCookies()
    https: JobHttps = JobHttps()
    proxy: JobProxy = JobProxy()
    download_error_handling: JobDownloadErrorHandling = JobDownloadErrorHandling()
    crawlers_protection_bypass: JobCrawlersProtectionBypass = JobCrawlersProtectionBypass()
    restart: JobRestart = JobRestart()

    @property
    def from_scratch(self) -> bool:
        return self.restart.job_restart_mode == "FromScratch"

    def scheme(self) -> Scheme:
        """The scheme this job's crawl runs with (validated: may raise ValidationError)."""
        bypass, errors, proxy = (self.crawlers_protection_bypass, self.download_error_handling,
                                 self.proxy)
        default_delay: str = "0"
        host_delays = {}
        for rule in bypass.crawl_delays:
            if rule.host.strip() in ("", "*"):
                default_delay = rule.delay
            else:
                host_delays[rule.host.strip()] = rule.delay
        retry = errors.retry_policy_params
        return Scheme.model_validate({
            "start_urls": list(self.start_urls),
            "politeness": {
                "crawl_delay": float(default_delay) if _number(default_delay) else default_delay,
                "host_delays": host_delays,
            },
            "request": {
                "headers": {h.name: ", ".join(h.values)
                            for h in self.headers.default_request_headers},
                "cookies": self.cookies.use_cookies,
                "timeout_s": bypass.request_timeout_sec,
                "max_response_kb": bypass.max_response_size_kb,
                "max_redirects": bypass.max_redirect_hops,
                "verify_tls": not self.https.suppress_https_certificate_validation,
                "retry": {"policy": errors.policy.lower(), "limit": retry.retries_limit,
                          "delay_ms": retry.retry_delay_ms},
            },
            "proxy": {
                "use": proxy.use_proxy,
                "fallback_direct": proxy.send_overt_requests_on_proxies_failure,
                "rotate_on_status": list(proxy.iterate_proxy_response_codes),
                "gates": [{"url": p.url(), "connections_limit": p.connections_limit}
                          for p in proxy.proxies],
            },
        })


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
