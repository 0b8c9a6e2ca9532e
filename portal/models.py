from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import connection, models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    NURSE = "nurse", _("Nurse")
    GUARDIAN = "guardian", _("Parent or guardian")
    ADMIN = "admin", _("Administrator")
    # The account a hospital's record system acts through: it never logs in.
    SYSTEM = "system", _("Record system")


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    SPANISH = "es", _("Spanish")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        """Log-in lookup: Parent@Example.org and parent@example.org are one account."""
        return self.alias(email_lower=Lower("email")).get(email_lower=(username or "").strip().lower())

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in: nurse, guardian or admin. Email is the login."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.GUARDIAN)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ENGLISH)
    is_active = models.BooleanField(_("active"), default=True)
    # Only admins reach the Django admin.
    is_staff = models.BooleanField(_("admin site access"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # One account per address whatever its letter case; also the index the log-in lookup uses.
            models.UniqueConstraint(
                Lower("email"),
                name="portal_user_email_unique_any_case",
                violation_error_message=_("An account with this email already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_nurse(self) -> bool:
        return self.role == Role.NURSE

    @property
    def is_guardian(self) -> bool:
        return self.role == Role.GUARDIAN

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_care_team(self) -> bool:
        """Nurses and admins: people who work on the staff side of the portal."""
        return self.role in (Role.NURSE, Role.ADMIN)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def usable(self) -> InvitationQuerySet:
        return self.filter(used_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """A single-use, expiring link to set a password.

    Only a hash of the token is stored, so a database dump cannot be used to
    take over an account.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"Invitation {self.pk} for user {self.user_id}"

    @classmethod
    def issue(cls, *, user: User, created_by: User | None) -> tuple[Invitation, str]:
        """Create an invitation and return it with its clear-text token.

        Earlier unused invitations for the same user stop working.
        """
        now = timezone.now()
        cls.objects.filter(user=user).usable().update(expires_at=now)
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            user=user,
            token_hash=_hash_token(token),
            created_by=created_by,
            created_at=now,
            expires_at=now + timedelta(hours=settings.INVITATION_VALID_HOURS),
        )
        return invitation, token

    @classmethod
    def find_usable(cls, token: str) -> Invitation | None:
        return cls.objects.usable().select_related("user").filter(token_hash=_hash_token(token)).first()


class ResetCodeQuerySet(models.QuerySet["ResetCode"]):
    def usable(self) -> ResetCodeQuerySet:
        return self.filter(
            used_at__isnull=True, expires_at__gt=timezone.now(), failed_tries__lt=settings.PASSWORD_RESET_CODE_TRIES
        )


class ResetCode(models.Model):
    """A six-digit code sent by text to choose a new password: short-lived, single-use, a few tries.

    Only a keyed hash of the code is stored: six digits are quick to guess from
    a plain hash, but not without the site's secret key.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    mobile_number = models.CharField(max_length=20, db_index=True)
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_tries = models.PositiveSmallIntegerField(default=0)

    objects = ResetCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("password reset code")
        verbose_name_plural = _("password reset codes")

    def __str__(self) -> str:
        return f"Reset code {self.pk} for user {self.user_id}"

    @staticmethod
    def _hash(user_id: int, code: str) -> str:
        return salted_hmac("portal.ResetCode", f"{user_id}:{code}", algorithm="sha256").hexdigest()

    @classmethod
    def issue(cls, *, user: User, mobile_number: str) -> tuple[ResetCode, str]:
        """A new code for `user`, sent to `mobile_number`; earlier unused codes stop working."""
        now = timezone.now()
        cls.objects.filter(user=user).usable().update(expires_at=now)
        code = f"{secrets.randbelow(1_000_000):06d}"
        row = cls.objects.create(
            user=user,
            mobile_number=mobile_number,
            code_hash=cls._hash(user.pk, code),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.PASSWORD_RESET_CODE_MINUTES),
        )
        return row, code

    @classmethod
    def find_match(cls, *, mobile_number: str, code: str) -> ResetCode | None:
        """The usable code sent to this number that matches, or None; a miss uses up one try of each."""
        candidates = list(cls.objects.usable().filter(mobile_number=mobile_number))
        for row in candidates:
            if constant_time_compare(row.code_hash, cls._hash(row.user_id, code)):
                return row
        cls.objects.filter(pk__in=[row.pk for row in candidates]).update(failed_tries=models.F("failed_tries") + 1)
        return None


class Heartbeat(models.Model):
    """Written by a periodic task, so operators can see beat and a worker are alive."""

    name = models.CharField(max_length=64, unique=True)
    last_beat_at = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_beat_at:%Y-%m-%d %H:%M:%S}"


class AuditAction(models.TextChoices):
    VIEW = "view", _("Viewed")
    CHANGE = "change", _("Changed")
    DENIED = "denied", _("Access denied")
    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOGOUT = "logout", _("Logged out")
    RESET_REQUESTED = "reset_requested", _("Password reset asked for")
    RESET_DONE = "reset_done", _("Password reset done")


@functools.cache
def _append_statement(vendor: str) -> tuple[str, list[models.Field]]:
    fields = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    places = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) VALUES ({places})", fields  # noqa: S608


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditEvent(models.Model):
    """Who viewed or changed which patient's data, when and from where. Append-only.

    It holds ids, routes and addresses; never message bodies or clinical free text.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    role = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    route = models.CharField(max_length=100, blank=True)
    method = models.CharField(max_length=8, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Plain ids, not foreign keys: the record outlives the rows it names.
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.action} {self.route} by {self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    @classmethod
    def append(cls, **values: Any) -> None:
        """Add one row, as `create` would, by a statement made once: every patient-data page writes one.

        The model's own fields give the columns and prepare each value (defaults included); only the
        ORM's building of the same INSERT each time, and the id it would read back, are left out.
        """
        row = cls(**values)
        statement, fields = _append_statement(connection.vendor)
        params = [field.get_db_prep_save(field.pre_save(row, add=True), connection) for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(statement, params)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")
