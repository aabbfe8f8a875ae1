"""Write one of the lab's kubeconfigs from data: a JSON document (every kubeconfig reader takes
JSON, a subset of YAML), mode 0600, put in place atomically.

Usage: kubeconfig.py FILE --server URL --ca CA_FILE --user NAME
                     (--cert CRT_FILE --key KEY_FILE | --token-file FILE)
                     [--context NAME] [--namespace NS]
"""

import argparse
import base64
import json
import os


def b64(path):
    with open(path, 'rb') as handle:
        return base64.b64encode(handle.read()).decode()


def document(args):
    if args.token_file:
        user = {'tokenFile': args.token_file}
    else:
        user = {'client-certificate-data': b64(args.cert), 'client-key-data': b64(args.key)}
    context = {'cluster': 'vaultkube-lab', 'user': args.user}
    if args.namespace:
        context['namespace'] = args.namespace
    return {
        'apiVersion': 'v1',
        'kind': 'Config',
        'clusters': [{'name': 'vaultkube-lab',
                      'cluster': {'server': args.server, 'certificate-authority-data': b64(args.ca)}}],
        'users': [{'name': args.user, 'user': user}],
        'contexts': [{'name': args.context, 'context': context}],
        'current-context': args.context,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('file')
    parser.add_argument('--server', required=True)
    parser.add_argument('--ca', required=True)
    parser.add_argument('--user', required=True)
    credential = parser.add_mutually_exclusive_group(required=True)
    credential.add_argument('--cert')
    credential.add_argument('--token-file')
    parser.add_argument('--key')
    parser.add_argument('--context', default='vaultkube-lab')
    parser.add_argument('--namespace')
    args = parser.parse_args()
    if args.cert and not args.key:
        parser.error('--cert needs --key')
    text = json.dumps(document(args), indent=2) + '\n'
    partial = args.file + '.tmp'
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(partial, 0o600)
    os.replace(partial, args.file)


if __name__ == '__main__':
    main()
