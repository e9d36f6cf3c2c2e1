"""
Python packaging metadata and console entry points of robot_bridges.

The package builds with ament_cmake (it generates ROS interfaces); CMakeLists.txt reads the
entry points below through setuptools' egg-info and installs one executable per entry under
lib/robot_bridges, so `ros2 run robot_bridges <name>` works.
"""

from setuptools import find_packages, setup

setup(
    name='robot_bridges',
    version='0.1.0',
    packages=find_packages(include=['robot_bridges', 'robot_bridges.*']),
    python_requires='>=3.10',
    install_requires=['websockets>=14.2', 'numpy', 'python-socketio>=5.11', 'aiohttp>=3.9',
                      'rich', 'protobuf', 'simplejpeg'],
    entry_points={
        'console_scripts': [
            'robot_chat_server = robot_bridges.sims.robot_chat_server:main',
            'robot_chat_peer = robot_bridges.sims.robot_chat_peer:main',
            'robot_chat_bridge = robot_bridges.bridges.robot_chat_bridge:main',
            'topic_echo = robot_bridges.tools.topic_echo:main',
            'status = robot_bridges.tools.status:main',
            'victor_sim = robot_bridges.sims.victor_sim:main',
            'victor_mic_bridge = robot_bridges.bridges.victor_mic_bridge:main',
            'webviz_bridge = robot_bridges.bridges.webviz_bridge:main',
            'letsrobot_bridge = robot_bridges.bridges.letsrobot_bridge:main',
            'letsrobot_sim = robot_bridges.sims.letsrobot_sim:main',
            'dfx_bridge = robot_bridges.bridges.dfx_bridge:main',
            'dfx_sim = robot_bridges.sims.dfx_sim:main',
            'reachy_bridge = robot_bridges.bridges.reachy_bridge:main',
            'reachy_sim = robot_bridges.sims.reachy_sim:main',
            'reachy_urdf = robot_bridges.tools.reachy_urdf:main',
            'robot_bridges_container = robot_bridges.node.container:main',
        ],
    },
)
