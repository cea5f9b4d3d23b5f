"""Package metadata read from settings.ini, the nbdev way."""
from configparser import ConfigParser

import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
c = cfg['DEFAULT']
licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
lic = licenses[c['license']]

setuptools.setup(
    name=c['lib_name'], version=c['version'], description=c['description'],
    long_description=open('README.md', encoding='utf-8').read(), long_description_content_type='text/markdown',
    author=c['author'], author_email=c['author_email'], license=lic[0], url=c['git_url'],
    keywords=c['keywords'].split(), python_requires=f">={c['min_python']}",
    classifiers=[f'Development Status :: {c["status"]} - {statuses[int(c["status"])]}', f'License :: {lic[1]}',
                 f'Intended Audience :: {c["audience"]}', 'Natural Language :: English',
                 'Programming Language :: Python :: 3'],
    packages=setuptools.find_packages(include=[c['lib_path'], f"{c['lib_path']}.*"]),
    include_package_data=True,
    install_requires=c['requirements'].split(),
    extras_require={k: c[f'{k}_requirements'].split() for k in ('app', 'onnx', 'distributed', 'dev')},
    entry_points={'console_scripts': c['console_scripts'].split()},
    zip_safe=False,
)
