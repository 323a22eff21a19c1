"""Write the synthetic data set as CSV files, and optionally load them into a database.

    python data/generate.py                      # data/small/*.csv (seed 0)
    python data/generate.py --size large         # data/large/*.csv (ten times larger, not committed)
    python data/generate.py --load --database-url postgresql+psycopg://postgres@127.0.0.1/whatsapp
"""

import argparse
import time
from pathlib import Path

from whatsapp_cache.backends import make_engine
from whatsapp_cache.config import BackendConfig
from whatsapp_cache.db.dataset import SIZES, Dataset, generate, load
from whatsapp_cache.db import Repository

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="folder for the CSV files (default data/<size>)")
    parser.add_argument("--load", action="store_true", help="also load the CSV files into a database")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: $WHATSAPP_CACHE_DATABASE_URL, else SQLite)")
    args = parser.parse_args()
    out = args.out or HERE / args.size
    started = time.perf_counter()
    for path in generate(args.size, args.seed).to_csv(out):
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if args.load:
        repo = Repository(make_engine(BackendConfig.resolve(database_url=args.database_url)))
        repo.create_schema()
        counts = load(repo, Dataset.from_csv(out, args.size, args.seed))
        print("loaded " + ", ".join(f"{n:,} {table}" for table, n in counts.items()))
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
