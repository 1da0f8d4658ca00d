"""Print one of the README's two commands, so CI runs exactly what a new user runs."""

import re
import sys
from pathlib import Path

blocks = re.findall(r"```bash\n(.*?)\n```", Path("README.md").read_text(), flags=re.S)
which = {"demo": 0, "tests": 1}[sys.argv[1]]
print(blocks[which].strip())
