import factory
from django.utils import timezone

from hubs.models import ApiKey, Hub, Membership, MembershipStatus, Organisation, OrganisationKind, Role, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class HubFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hub
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Hub {n}")
    slug = factory.Sequence(lambda n: f"hub-{n}")
    city = factory.Faker("city")
    country = "DE"
    description = "A hub of the network."
    focus_sectors = factory.LazyFunction(lambda: ["health", "energy"])
    contact_email = factory.LazyAttribute(lambda o: f"contact@{o.slug}.example.org")


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.UNIVERSITY
    country = "FR"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    hub = factory.SubFactory(HubFactory)
    role = Role.MEMBER
    status = MembershipStatus.ACTIVE
    motivation = "I would like to train models here."
    decided_at = factory.LazyFunction(timezone.now)


def make_api_key(*, hub, user=None, partner=None, scope="read", name="test key") -> tuple[ApiKey, str]:
    """A key created through the service, as users and staff create them."""
    from hubs import services

    acting = user or _staff_of(hub)
    return services.api_key_create(name=name, hub=hub, scope=scope, user=user, partner=partner, acting_user=acting)


def _staff_of(hub):
    from hubs.models import STAFF_ROLES

    membership = hub.memberships.filter(role__in=STAFF_ROLES, status=MembershipStatus.ACTIVE).first()
    if membership:
        return membership.user
    return User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        email=f"root-{hub.slug}@example.org", password="x"
    )
