# -*- coding: utf-8 -*-
"""The vault_config document a platform engineer would write by hand for the Vault that
bank_vaults_external_config.yml describes (the placeholders given as arguments)."""


def hand_written(jwt='REVIEWER_JWT_PLACEHOLDER', ca='CA_PEM_PLACEHOLDER', startup='STARTUP_VALUE_PLACEHOLDER'):
    return {
        'secrets_engines': [{'path': 'secret', 'engine_type': 'kv', 'description': 'General secrets.', 'version': 2}],
        'policies': [
            {'name': 'vault_admin',
             'policy': 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'},
            {'name': 'rw_access_policy',
             'policy': 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }'},
            {'name': 'ro_access_policy', 'policy': 'path "secret/*" { capabilities = ["read", "list"] }'}],
        'auth_methods': [{'path': 'k8s-one', 'method_type': 'kubernetes'},
                         {'path': 'github', 'method_type': 'github'}],
        'kubernetes_auth_configs': [{'mount_path': 'k8s-one', 'token_reviewer_jwt': jwt, 'kubernetes_ca_cert': ca,
                                     'kubernetes_host': 'https://k8s-one.example.internal:6443',
                                     'disable_iss_validation': True}],
        'kubernetes_auth_roles': [{'mount_path': 'k8s-one', 'name': 'k8s-one-external-secrets-role',
                                   'bound_service_account_names': ['external-secrets'],
                                   'bound_service_account_namespaces': ['external-secrets'],
                                   'token_policies': ['ro_access_policy'], 'token_max_ttl': '60m'}],
        'github_auth': [{'mount_path': 'github', 'organization': 'acme-platform', 'organization_id': 424242,
                         'token_ttl': '10m',
                         'teams': {'devs-rw': ['rw_access_policy'], 'devs-ro': ['ro_access_policy']},
                         'users': {'k4kratik': ['vault_admin']}}],
        'kv_secrets': [{'mount_path': 'secret', 'path': 'TEST_PROJECT_ONE/test', 'data': {'SECRET_KEY': startup}}],
    }
